"""Tests for smclient.render: the original's frame, byte for byte.

Expected texts are copied from the manual's samples
(``reference/mcp-manual-smclient.rst``, real output), indentation stripped.
"""

from __future__ import annotations

import time

import pytest
import wcwidth
from hypothesis import given, settings
from hypothesis import strategies as st

from smclient.errors import ServerError, Unreachable, UsageError
from smclient.render import display_width, render, render_outcome, render_table
from smclient.results import Clear, Column, Exit, Failure, HelpEntry, HelpListing, Message, Success, Table


def lines(text: str) -> list[str]:
    """Expected block as lines (the literal starts and ends with a newline)."""
    return text.strip("\n").split("\n")


def assert_straight(out: list[str]) -> None:
    """Every line has the same display width, and wcwidth sees no non-printable."""
    widths = {wcwidth.wcswidth(line) for line in out}
    assert len(widths) == 1, widths
    assert -1 not in widths
    assert {display_width(line) for line in out} == widths
    for line in out:
        assert line.splitlines() == [line]


# --------------------------------------------------------------------------
# display_width
# --------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "width"),
    [
        ("", 0),
        ("Small.64GB", 10),
        ("여기 추가", 9),
        ("설명", 4),
        ("e\u0301", 1),  # combining acute accent takes no column
        ("a\u200bb", 2),  # zero-width space
        ("\U0001F600", 2),  # emoji
        ("a\x85b", 2),  # wcswidth gives -1: fall back to per-character widths
    ],
)
def test_display_width(text: str, width: int) -> None:
    assert display_width(text) == width


# --------------------------------------------------------------------------
# Samples from the manual
# --------------------------------------------------------------------------

SDAMODELS = [
    ("1", "Small.64GB", "1"),
    ("2", "Medium.128GB", "2"),
    ("3", "Large.256GB", "4"),
    ("4", "xLarge.512GB", "8"),
    ("5", "2xLarge.1024GB", "16"),
    ("6", "3xLarge.1536GB", "24"),
    ("7", "4xLarge.2048GB", "32"),
    ("8", "6xLarge.3072GB", "48"),
    ("9", "8xLarge.4096GB", "64"),
    ("10", "12xLarge.6144GB", "96"),
    ("11", "24xLarge.12288GB", "192"),
    ("12", "48xLarge.24576GB", "384"),
    ("52", "1.5xLarge.768GB", "12"),
]

SHOW_SDAMODEL = """
+---------------------------------------+
|  ID  |        Name        |  Devices  |
+=======================================+
|   1  |  Small.64GB        |        1  |
|   2  |  Medium.128GB      |        2  |
|   3  |  Large.256GB       |        4  |
|   4  |  xLarge.512GB      |        8  |
|   5  |  2xLarge.1024GB    |       16  |
|   6  |  3xLarge.1536GB    |       24  |
|   7  |  4xLarge.2048GB    |       32  |
|   8  |  6xLarge.3072GB    |       48  |
|   9  |  8xLarge.4096GB    |       64  |
|  10  |  12xLarge.6144GB   |       96  |
|  11  |  24xLarge.12288GB  |      192  |
|  12  |  48xLarge.24576GB  |      384  |
|  52  |  1.5xLarge.768GB   |       12  |
+---------------------------------------+
"""


def test_show_sdamodel_matches_manual() -> None:
    table = Table(
        [Column("ID", "R"), Column("Name", "L"), Column("Devices", "R")],
        [list(row) for row in SDAMODELS],
    )
    assert render_table(table) == lines(SHOW_SDAMODEL)


GET_SDA = """
+---------------------------------------------------------------------------------------+
|   ID   |            Token           |  SDAModel  |  Reserved  |  Be_ID  |  Device_ID  |
+=======================================================================================+
|  1542  |  YmFidTE2NjcyOTE2NTI0MjU=  |  1         |  False     |         |             |
+---------------------------------------------------------------------------------------+
"""

GET_SDA_COLUMNS = ["SDAModel", "Reserved", "Be_ID", "Device_ID"]


@pytest.mark.parametrize("align", ["L", "R"])
def test_get_sda_matches_manual(align: str) -> None:
    # ID and Token fill their width in the sample: either alignment fits.
    table = Table(
        [Column("ID", align), Column("Token", align)]
        + [Column(h, "L") for h in GET_SDA_COLUMNS],
        [["1542", "YmFidTE2NjcyOTE2NTI0MjU=", "1", "False", "", ""]],
    )
    assert render_table(table) == lines(GET_SDA)


SHOW_RELATIONSHIP = """
+----------------------------------------------------------------------+
|  User Group(id)  |  SDAModel Group(id)  |      Backend Group(id)     |
+======================================================================+
|  ug1(1)          |  mg1(1)              |  default_backend_group(0)  |
|                  |  mg2(2)              |  bg1(1)                    |
|  ug2(2)          |  mg1(1)              |  default_backend_group(0)  |
|                  |  mg2(2)              |  bg1(1)                    |
+----------------------------------------------------------------------+
"""


def test_show_relationship_multiline_cells_match_manual() -> None:
    table = Table(
        [Column("User Group(id)"), Column("SDAModel Group(id)"), Column("Backend Group(id)")],
        [
            ["ug1(1)", ["mg1(1)", "mg2(2)"], ["default_backend_group(0)", "bg1(1)"]],
            [["ug2(2)"], ["mg1(1)", "mg2(2)"], ["default_backend_group(0)", "bg1(1)"]],
        ],
    )
    assert render_table(table) == lines(SHOW_RELATIONSHIP)


SHOW_MEMBERSHIP = """
+----------------------------+
|  ID  |  Name  |   Childs   |
+============================+
|   1  |  ug1   |  mg1, mg2  |
|   2  |  ug2   |  mg1, mg2  |
+----------------------------+
"""


def test_show_membership_matches_manual() -> None:
    table = Table(
        [Column("ID", "R"), Column("Name"), Column("Childs")],
        [["1", "ug1", "mg1, mg2"], ["2", "ug2", "mg1, mg2"]],
    )
    assert render_table(table) == lines(SHOW_MEMBERSHIP)


SHOW_SDAMODELGROUP = """
+--------------------------------------------------------------------+
|  ID  |  Name  |        Backend Group       |        Childs         |
+====================================================================+
|   1  |  mg1   |  default_backend_group(0)  |  micro, small, large  |
|   2  |  mg2   |  bg1(1)                    |                       |
+--------------------------------------------------------------------+
"""


def test_show_sdamodelgroup_matches_manual() -> None:
    table = Table(
        [Column("ID", "R"), Column("Name"), Column("Backend Group"), Column("Childs")],
        [
            ["1", "mg1", "default_backend_group(0)", "micro, small, large"],
            ["2", "mg2", "bg1(1)", ""],
        ],
    )
    assert render_table(table) == lines(SHOW_SDAMODELGROUP)


SHOW_BACKENDGROUP = """
+---------------------------------------------+
|  ID  |          Name           |   Childs   |
+=============================================+
|   0  |  default_backend_group  |  rx6900-7  |
|   1  |  bg1                    |            |
+---------------------------------------------+
"""


def test_show_backendgroup_matches_manual() -> None:
    table = Table(
        [Column("ID", "R"), Column("Name"), Column("Childs")],
        [["0", "default_backend_group", "rx6900-7"], ["1", "bg1", ""]],
    )
    assert render_table(table) == lines(SHOW_BACKENDGROUP)


SHOW_USERGROUP = """
+----------------------------------------------------------------------+
|  ID  |  Name  |                        Childs                        |
+======================================================================+
|   1  |  ug1   |  dGFlczE2NzY2MDAwNDAzMTk=, dGVzdDE2NzcwNDM5NjkxOTg=  |
|   2  |  ug2   |                                                      |
+----------------------------------------------------------------------+
"""


def test_show_usergroup_matches_manual() -> None:
    table = Table(
        [Column("ID", "R"), Column("Name"), Column("Childs")],
        [
            ["1", "ug1", "dGFlczE2NzY2MDAwNDAzMTk=, dGVzdDE2NzcwNDM5NjkxOTg="],
            ["2", "ug2", ""],
        ],
    )
    assert render_table(table) == lines(SHOW_USERGROUP)


GET_JOB_FEID = """
+------------------------------------------------------------------------------------------------------------+
|      Name      |                                           Value                                           |
+============================================================================================================+
|  Frontend ID   |  24622                                                                                    |
|  Token         |  YmFidTE2NjA3ODU5NDE1Mjc=                                                                 |
|  Token name    |  user@gmail.com_promo-vm-16                                                               |
|  Priority      |  0                                                                                        |
|  Status        |  RUNNING                                                                                  |
|  Client PID    |  9330                                                                                     |
|  Process name  |  python train.py --dataset inat --load-checkpoint ./checkpoint/162 --save-model model.pt  |
|  Request time  |  2022-09-14 23:14:08.49                                                                   |
|  Start time    |  2022-09-14 23:14:10.14                                                                   |
|  Version       |  22.9.0                                                                                   |
|  Device count  |  8                                                                                        |
|  back10        |  0,1,2,3,4,5,6,7                                                                          |
+------------------------------------------------------------------------------------------------------------+
"""


def test_get_job_feid_matches_manual() -> None:
    rows = [
        ["Frontend ID", "24622"],
        ["Token", "YmFidTE2NjA3ODU5NDE1Mjc="],
        ["Token name", "user@gmail.com_promo-vm-16"],
        ["Priority", "0"],
        ["Status", "RUNNING"],
        ["Client PID", "9330"],
        ["Process name",
         "python train.py --dataset inat --load-checkpoint ./checkpoint/162 --save-model model.pt"],
        ["Request time", "2022-09-14 23:14:08.49"],
        ["Start time", "2022-09-14 23:14:10.14"],
        ["Version", "22.9.0"],
        ["Device count", "8"],
        ["back10", "0,1,2,3,4,5,6,7"],
    ]
    table = Table([Column("Name"), Column("Value")], rows)
    assert render_table(table) == lines(GET_JOB_FEID)


SHOW_JOB = """
+----------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------+
|  FeID   |            Token           |  PRY  |  Status   |   PID   |                                                                                                                                                                                      Process Name                                                                                                                                                                                      |        Start Time        |
+========================================================================================================================================================================================================================================================================================================================================================================================================================================================================================+
|  24622  |  YmFidTE2NjA3ODU5NDE1Mjc=  |    0  |  RUNNING  |   9330  |  python train.py --dataset inat --load-checkpoint ./checkpoint/162 --save-model model.pt                                                                                                                                                                                                                                                                                               |  2022-09-14 23:14:10.14  |
|  26197  |  YmFidTE2NjE5OTMxMTU5MTQ=  |    0  |  RUNNING  |   4109  |  python main_train_pmlffnet_v1_sat_ms_comp_pan_comp.py                                                                                                                                                                                                                                                                                                                                 |  2022-09-15 21:53:19.07  |
|  26428  |  YmFidTE2NjIwODIwNTM2Njg=  |    0  |  RUNNING  |  20906  |  python train.py --model-cfg ./models/yolov5x6.yaml --save-model model.pt -b 128 -e 300 --img 1280 --num-workers 6                                                                                                                                                                                                                                                                     |  2022-09-16 01:39:56.34  |
|  27541  |  YmFidTE2NjE5MzI2MjM3NzQ=  |    0  |  RUNNING  |  16874  |  python train_imagenet.py                                                                                                                                                                                                                                                                                                                                                              |  2022-09-19 09:54:49.83  |
|  27772  |  YmFidTE2NjA3Mjc1Njg1MDc=  |    0  |  RUNNING  |  27034  |  python train_tudl_non_ddp.py --cls=dragon                                                                                                                                                                                                                                                                                                                                             |  2022-09-19 16:32:53.13  |
|  27823  |  YmFidTE2NjMxMzgyMDAzMDU=  |    0  |  RUNNING  |  24802  |  python train.py --workers 8 --device 0 --batch-size 256 --data data/coco.yaml --img 640 640 --cfg cfg/training/yolov7.yaml --weights  --name yolov7 --hyp data/hyp.scratch.p5.yaml                                                                                                                                                                                                    |  2022-09-19 17:50:33.25  |
|  27910  |  YmFidTE2NjMwNTE2NTgyMTc=  |    0  |  RUNNING  |  11775  |  python train.py --save-model model.pt -b 64 -e 100                                                                                                                                                                                                                                                                                                                                    |  2022-09-20 10:19:57.81  |
|  27913  |  YmFidTE2NTgyODAzNzE1NDk=  |    0  |  RUNNING  |  31688  |  python train.py -b 128 --num-workers 4                                                                                                                                                                                                                                                                                                                                                |  2022-09-20 10:49:12.78  |
|  27991  |  YmFidTE2NjE4NDgxMzAzMzE=  |    0  |  RUNNING  |  28849  |  python ./reference/train.py --save-model /mnt/addvol/workspace/gpt/model/first_model.pt -b 32 --train-dataset /mnt/addvol/workspace/gpt/data/train_dataset_downsized.txt --val-dataset /mnt/addvol/workspace/gpt/data/valid_dataset_downsized.txt --vocab-file-path /mnt/addvol/workspace/gpt/tokenized/vocab.json --merges-file-path /mnt/addvol/workspace/gpt/tokenized/merges.txt  |  2022-09-20 13:15:05.64  |
|  28123  |  YmFidTE2NjIwMTU1OTQ4MjM=  |    0  |  RUNNING  |  11171  |  python train.py --save-model bart.pt -b 32 -e 1                                                                                                                                                                                                                                                                                                                                       |  2022-09-20 16:38:03.62  |
+----------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------+
"""  # noqa: E501

JOBS = [
    ("24622", "YmFidTE2NjA3ODU5NDE1Mjc=", "9330",
     "python train.py --dataset inat --load-checkpoint ./checkpoint/162 --save-model model.pt",
     "2022-09-14 23:14:10.14"),
    ("26197", "YmFidTE2NjE5OTMxMTU5MTQ=", "4109",
     "python main_train_pmlffnet_v1_sat_ms_comp_pan_comp.py", "2022-09-15 21:53:19.07"),
    ("26428", "YmFidTE2NjIwODIwNTM2Njg=", "20906",
     "python train.py --model-cfg ./models/yolov5x6.yaml --save-model model.pt -b 128 -e 300"
     " --img 1280 --num-workers 6", "2022-09-16 01:39:56.34"),
    ("27541", "YmFidTE2NjE5MzI2MjM3NzQ=", "16874", "python train_imagenet.py",
     "2022-09-19 09:54:49.83"),
    ("27772", "YmFidTE2NjA3Mjc1Njg1MDc=", "27034", "python train_tudl_non_ddp.py --cls=dragon",
     "2022-09-19 16:32:53.13"),
    ("27823", "YmFidTE2NjMxMzgyMDAzMDU=", "24802",
     "python train.py --workers 8 --device 0 --batch-size 256 --data data/coco.yaml --img 640 640"
     " --cfg cfg/training/yolov7.yaml --weights  --name yolov7 --hyp data/hyp.scratch.p5.yaml",
     "2022-09-19 17:50:33.25"),
    ("27910", "YmFidTE2NjMwNTE2NTgyMTc=", "11775",
     "python train.py --save-model model.pt -b 64 -e 100", "2022-09-20 10:19:57.81"),
    ("27913", "YmFidTE2NTgyODAzNzE1NDk=", "31688", "python train.py -b 128 --num-workers 4",
     "2022-09-20 10:49:12.78"),
    ("27991", "YmFidTE2NjE4NDgxMzAzMzE=", "28849",
     "python ./reference/train.py --save-model /mnt/addvol/workspace/gpt/model/first_model.pt"
     " -b 32 --train-dataset /mnt/addvol/workspace/gpt/data/train_dataset_downsized.txt"
     " --val-dataset /mnt/addvol/workspace/gpt/data/valid_dataset_downsized.txt"
     " --vocab-file-path /mnt/addvol/workspace/gpt/tokenized/vocab.json"
     " --merges-file-path /mnt/addvol/workspace/gpt/tokenized/merges.txt",
     "2022-09-20 13:15:05.64"),
    ("28123", "YmFidTE2NjIwMTU1OTQ4MjM=", "11171",
     "python train.py --save-model bart.pt -b 32 -e 1", "2022-09-20 16:38:03.62"),
]


def test_show_job_matches_manual() -> None:
    # FeID in 5 columns: the odd leftover goes right (0 left, 1 right).
    table = Table(
        [Column("FeID", "R"), Column("Token"), Column("PRY", "R"), Column("Status"),
         Column("PID", "R"), Column("Process Name"), Column("Start Time")],
        [[feid, token, "0", "RUNNING", pid, name, start]
         for feid, token, pid, name, start in JOBS],
    )
    assert render_table(table) == lines(SHOW_JOB)


# --------------------------------------------------------------------------
# show backend: nested ``idx | STATE`` pairs
# --------------------------------------------------------------------------

BACKEND_COLUMNS = [
    Column("ID"), Column("Name"), Column("Ip"), Column("Group"), Column("Status"),
    Column("Device", parts=2), Column("Device", parts=2),
]


def device_cells(states: list[str]) -> list[list[tuple[str, str]]]:
    """The two Device cells: even indexes in the first, odd in the second."""
    pairs = [(str(i), state) for i, state in enumerate(states)]
    return [pairs[0::2], pairs[1::2]]


SHOW_BACKEND = """
+-----------------------------------------------------------------------------------------------------+
|  ID  |   Name   |        Ip        |  Group  |   Status   |       Device       |       Device       |
+=====================================================================================================+
|  1   |  back01  |  192.168.110.0   |         |  ACTIVE    |  0  |  PROCESSING  |  1  |  PROCESSING  |
|      |          |                  |         |            |  2  |  PROCESSING  |  3  |  PROCESSING  |
|      |          |                  |         |            |  4  |  PROCESSING  |  5  |  PROCESSING  |
|      |          |                  |         |            |  6  |  PROCESSING  |  7  |  PROCESSING  |
|  58  |  back58  |  192.168.110.57  |         |  SHUTDOWN  |  0  |  IDLE        |  1  |  IDLE        |
|      |          |                  |         |            |  2  |  SHUTDOWN    |  3  |  IDLE        |
|      |          |                  |         |            |  4  |  IDLE        |  5  |  IDLE        |
|      |          |                  |         |            |  6  |  IDLE        |  7  |  CLEANING    |
+-----------------------------------------------------------------------------------------------------+
"""


def test_show_backend_pairs_match_manual() -> None:
    # The manual's first backend, verbatim.  Its Ip and Status columns are
    # 14 and 8 wide because of backends in the elided rows; the second
    # backend here stands in for them (a 14-wide ip, a SHUTDOWN status).
    table = Table(
        BACKEND_COLUMNS,
        [
            ["1", "back01", "192.168.110.0", "", "ACTIVE", *device_cells(["PROCESSING"] * 8)],
            ["58", "back58", "192.168.110.57", "", "SHUTDOWN",
             *device_cells(["IDLE", "IDLE", "SHUTDOWN", "IDLE", "IDLE", "IDLE", "IDLE",
                            "CLEANING"])],
        ],
    )
    assert render_table(table) == lines(SHOW_BACKEND)


SHOW_BACKEND_WIDE = """
+-------------------------------------------------------------------------------------+
|  ID  |  Name  |     Ip     |  Group  |  Status  |      Device       |    Device     |
+=====================================================================================+
|  1   |  b1    |  10.0.0.1  |  0      |  ACTIVE  |  0   |  IDLE      |  1   |  IDLE  |
|      |        |            |         |          |  2   |  IDLE      |  3   |  IDLE  |
|      |        |            |         |          |  4   |  IDLE      |  5   |  IDLE  |
|      |        |            |         |          |  6   |  IDLE      |  7   |  IDLE  |
|      |        |            |         |          |  8   |  IDLE      |  9   |  IDLE  |
|      |        |            |         |          |  10  |  CLEANING  |  11  |  IDLE  |
|  2   |  b2    |  10.0.0.2  |  0      |  ACTIVE  |  0   |  IDLE      |  1   |  IDLE  |
|      |        |            |         |          |  2   |  IDLE      |               |
|  3   |  b3    |  10.0.0.3  |  0      |  ACTIVE  |                   |               |
+-------------------------------------------------------------------------------------+
"""


def test_show_backend_two_digit_indexes_stay_aligned() -> None:
    # Each pair column has its own sub-widths (the second one never holds
    # CLEANING, so it is narrower and its header centres differently).
    states = ["IDLE"] * 12
    states[10] = "CLEANING"
    table = Table(
        BACKEND_COLUMNS,
        [
            ["1", "b1", "10.0.0.1", "0", "ACTIVE", *device_cells(states)],
            # an odd count leaves the last second-column line blank
            ["2", "b2", "10.0.0.2", "0", "ACTIVE", *device_cells(["IDLE"] * 3)],
            # no devices at all: blank Device cells, no stray separator
            ["3", "b3", "10.0.0.3", "0", "ACTIVE", [], ""],
        ],
    )
    out = render_table(table)
    assert out == lines(SHOW_BACKEND_WIDE)
    assert_straight(out)


def test_pair_column_right_aligned_keeps_pairs_aligned() -> None:
    # A header wider than the pairs: the joined pairs move as one block.
    table = Table(
        [Column("Devices of this backend", "R", parts=2)],
        [[[("0", "IDLE"), ("10", "PROCESSING")]]],
    )
    assert render_table(table) == [
        "+---------------------------+",
        "|  Devices of this backend  |",
        "+===========================+",
        "|        0   |  IDLE        |",
        "|        10  |  PROCESSING  |",
        "+---------------------------+",
    ]


def test_pair_column_tuples_of_wrong_length() -> None:
    # Missing sub-cells are blank; extra ones are kept in the last sub-cell.
    table = Table(
        [Column("P", parts=2)],
        [[("a",)], [("b", "c", "d")]],
    )
    assert render_table(table) == [
        "+-----------------+",
        "|        P        |",
        "+=================+",
        "|  a  |           |",
        "|  b  |  c  |  d  |",
        "+-----------------+",
    ]


# --------------------------------------------------------------------------
# Header centring
# --------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("header", "cell", "expected"),
    [
        ("Token", "x" * 24, "|            Token           |"),  # w 24: 10 left, 9 right
        ("FeID", "24622", "|  FeID   |"),  # w 5: 0 left, 1 right
        ("Name", "abcdefg", "|   Name    |"),  # w 7: 1 left, 2 right
        ("ID", "1542", "|   ID   |"),  # even leftover: split evenly
        ("Longer header", "x", "|  Longer header  |"),  # header sets the width
    ],
)
def test_header_centring(header: str, cell: str, expected: str) -> None:
    assert render_table(Table([Column(header)], [[cell]]))[1] == expected


# --------------------------------------------------------------------------
# Wide characters
# --------------------------------------------------------------------------

def test_korean_text_keeps_frame_straight() -> None:
    table = Table(
        [Column("ID", "R"), Column("설명"), Column("Name", "R")],
        [["1", "여기 추가", "a"], ["22", "abc", "한"]],
    )
    out = render_table(table)
    assert out == [
        "+-----------------------------+",
        "|  ID  |    설명     |  Name  |",
        "+=============================+",
        "|   1  |  여기 추가  |     a  |",
        "|  22  |  abc        |    한  |",
        "+-----------------------------+",
    ]
    assert_straight(out)


# --------------------------------------------------------------------------
# Empty and odd tables
# --------------------------------------------------------------------------

def test_empty_table_is_frame_and_header() -> None:
    table = Table([Column("ID", "R"), Column("Name"), Column("Childs")], [])
    assert render_table(table) == [
        "+--------------------------+",
        "|  ID  |  Name  |  Childs  |",
        "+==========================+",
        "+--------------------------+",
    ]


def test_short_rows_get_blank_cells() -> None:
    table = Table([Column("A"), Column("B")], [["x"]])
    assert render_table(table) == [
        "+-----------+",
        "|  A  |  B  |",
        "+===========+",
        "|  x  |     |",
        "+-----------+",
    ]


# --------------------------------------------------------------------------
# Hostile text
# --------------------------------------------------------------------------

def test_control_characters_become_spaces() -> None:
    table = Table(
        [Column("Desc"), Column("N", "R")],
        [["a\tb\nc\rd", "1"], ["\x1b[31mred", "2"], ["x\u2028y\u202ez", "3"]],
    )
    out = render_table(table)
    assert out == [
        "+------------------+",
        "|    Desc    |  N  |",
        "+==================+",
        "|  a b c d   |  1  |",
        "|   [31mred  |  2  |",
        "|  x y z     |  3  |",
        "+------------------+",
    ]
    assert_straight(out)


def test_zero_width_and_combining_characters() -> None:
    table = Table(
        [Column("T")],
        [["e\u0301te\u0301"], ["a\u200bb"], ["\u0301x"], ["zwj\u200d"], ["\U0001F600"]],
    )
    out = render_table(table)
    assert out == [
        "+-------+",
        "|   T   |",
        "+=======+",
        "|  e\u0301te\u0301  |",
        "|  a\u200bb   |",
        "|  \u0301x    |",
        "|  zwj  |",  # the trailing ZWJ is dropped
        "|  \U0001F600   |",
        "+-------+",
    ]
    assert_straight(out)


def test_lone_surrogate_is_replaced() -> None:
    out = render_table(Table([Column("T")], [["a\ud800b"]]))
    assert out[3] == "|  a\ufffdb  |"
    "\n".join(out).encode("utf-8")  # printable without UnicodeEncodeError


hostile_text = st.text(
    alphabet=st.characters(codec=None, exclude_categories=()), max_size=12
) | st.sampled_from(["", "\t", "\n", "\r\n", "\x1b[2J", "\u200d", "\u0301", "한\u094d",
                     "\u0903", "\U0001F1F0", "\U0001F468\u200d\U0001F469", "\u2764\ufe0f"])


def cell_for(parts: int) -> st.SearchStrategy:
    if parts == 1:
        return hostile_text | st.lists(hostile_text, max_size=3)
    pair = st.tuples(hostile_text, hostile_text)
    return hostile_text | pair | st.lists(pair, max_size=3)


@st.composite
def tables(draw: st.DrawFn) -> Table:
    columns = draw(st.lists(
        st.builds(Column, hostile_text, st.sampled_from(["L", "R"]), st.sampled_from([1, 1, 2])),
        min_size=1, max_size=4,
    ))
    rows = draw(st.lists(
        st.tuples(*(cell_for(c.parts) for c in columns)).map(list), max_size=5,
    ))
    return Table(columns, rows)


@settings(max_examples=400, deadline=None)
@given(tables())
def test_hostile_text_never_breaks_the_frame(table: Table) -> None:
    out = render_table(table)
    assert_straight(out)
    assert out[0] == out[-1]
    assert out[0][0] == "+" and out[0][-1] == "+"
    assert out[2] == "+" + "=" * (len(out[0]) - 2) + "+"
    assert all(line[0] == "|" and line[-1] == "|" for line in out[1:2] + out[3:-1])
    # each row takes as many lines as its tallest cell (at least one)
    heights = [
        max([len(c) for c in row if isinstance(c, list)] + [1]) for row in table.rows
    ]
    assert len(out) == 4 + sum(heights)


# --------------------------------------------------------------------------
# render()
# --------------------------------------------------------------------------

def test_render_none_message_table_and_list() -> None:
    table = Table([Column("A")], [["x"]])
    table_text = "+-----+\n|  A  |\n+=====+\n|  x  |\n+-----+"
    assert render(None) == ""
    assert render(Message("Create SDA success.")) == "Create SDA success."
    assert render(table) == table_text
    assert render([Message("first"), table, None, Message("last")]) == (
        "first\n" + table_text + "\nlast"
    )
    assert render([]) == ""


def test_success_is_the_title_then_the_note() -> None:
    assert render_outcome(Success("Delete Token")) == ("Delete Token success.", "")
    assert render_outcome(Success("Update Backend Status", "Note: 2 jobs keep running.")) == (
        "Update Backend Status success.\nNote: 2 jobs keep running.", "")


@pytest.mark.parametrize(("failure", "line"), [
    (Failure(ServerError("Token 'x' does not exist.", "NOT_FOUND"), "Get Token information"),
     "Get Token information failed. (Token 'x' does not exist.)"),
    (Failure(UsageError("Invalid arguments. 'exit' takes no arguments.")),
     "Invalid arguments. 'exit' takes no arguments."),
    (Failure(Unreachable("Cannot connect to SDAManager at 127.0.0.1:1.")),
     "Cannot connect to SDAManager at 127.0.0.1:1."),
    (Failure(KeyError("x")), "Internal error: KeyError: 'x'"),
])
def test_a_failure_is_one_line_on_stderr(failure: Failure, line: str) -> None:
    assert render_outcome(failure) == ("", line)


def test_help_listing_is_the_originals_layout() -> None:
    listing = HelpListing((HelpEntry("delete token", "Delete Token", "delete token {token}"),
                           HelpEntry("q", "Exit application (same command: exit, quit, q)", None)))
    assert render_outcome(listing) == (
        "delete token                      : Delete Token\n"
        "      (usages : delete token {token})\n"
        "q                                 : Exit application (same command: exit, quit, q)", "")


def test_exit_and_clear_print_nothing() -> None:
    assert render_outcome(Exit()) == render_outcome(Clear()) == render_outcome(None) == ("", "")


def test_render_rejects_unknown_results() -> None:
    with pytest.raises(TypeError):
        render(42)


# --------------------------------------------------------------------------
# Performance
# --------------------------------------------------------------------------

def test_large_table_renders_fast() -> None:
    columns = [Column("FeID", "R"), Column("Token"), Column("PRY", "R"), Column("Status"),
               Column("PID", "R"), Column("Process Name"), Column("Start Time")]
    rows = [[str(i), "YmFidTE2NjA3ODU5NDE1Mjc=", "0", "RUNNING", str(i * 7 % 32768),
             f"python train.py --run {i}", "2022-09-14 23:14:10.14"] for i in range(100_000)]
    start = time.perf_counter()
    out = render_table(Table(columns, rows))
    elapsed = time.perf_counter() - start
    assert len(out) == 100_004
    assert out[3] == (
        "|      0  |  YmFidTE2NjA3ODU5NDE1Mjc=  |    0  |  RUNNING  |      0  |"
        "  python train.py --run 0      |  2022-09-14 23:14:10.14  |"
    )
    assert elapsed < 2.0, elapsed


@pytest.mark.parametrize("mark", ["\u200e", "\u200f", "\u061c"], ids=["LRM", "RLM", "ALM"])
def test_weak_bidi_marks_become_spaces(mark: str) -> None:
    out = render_table(Table([Column("Desc")], [[f"a{mark}b"]]))
    assert out[3] == "|  a b   |"
    assert_straight(out)
    assert render(Message(f"Create SDA Success (Token : x{mark}y)")) == "Create SDA Success (Token : x y)"
    assert render(Success("Update Backend Status", f"Note: job 1 keeps its devices on b{mark}1")) == \
        "Update Backend Status success.\nNote: job 1 keeps its devices on b 1"
