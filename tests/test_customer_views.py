"""The customer's tools' text, made from API messages built here (no server):
the lines of Moreh's moreh-smi / moreh-switch-model pages and the seed's
grouped menu, byte for byte where they are real output."""

from __future__ import annotations

import pytest

from smclient.api import sdamanager_pb2 as pb
from smclient.vm import views

RUNNING = pb.JOB_STATUS_RUNNING


def device(sda_id: int, model: str, current: bool = False, jobs=(), group: str = "") -> pb.TokenDevice:
    return pb.TokenDevice(sda_id=sda_id, model_id=sda_id, model_name=model, model_group_name=group,
                          current=current, jobs=list(jobs))


def report(*devices: pb.TokenDevice, current: str = "24.5.0", latest: str = "24.5.0",
           token: str = "a3RfYTE2ODU1OTY3NzE2MTA=") -> pb.DeviceReport:
    return pb.DeviceReport(token=token, devices=list(devices), current_version=current, latest_version=latest,
                           server_version="0.1.0")


def job(feid: int = 976356, pid: int = 1548305, process: str = "python tutorial/train_gpt.py",
        used: int = 397, total: int = 524160, util: int = 0, measured: bool = True, **kw) -> pb.DeviceJob:
    return pb.DeviceJob(feid=feid, status=kw.pop("status", RUNNING), client_pid=pid, process_name=process,
                        measured=measured, memory_used_mib=used if measured else 0,
                        memory_total_mib=total if measured else 0, utilization_percent=util, **kw)


# Moreh's idle sample (Name is this project's `Moreh SDA`, centred).
IDLE = """\
+-----------------------------------------------------------------------------------------------------+
|                                                    Current Version: 24.5.0  Latest Version: 24.5.0  |
+-----------------------------------------------------------------------------------------------------+
|  Device  |        Name         |       Model      |  Memory Usage  |  Total Memory  |  Utilization  |
+=====================================================================================================+
|  * 0     |      Moreh SDA      |  4xlarge.2048GB  |  -             |  -             |  -            |
+-----------------------------------------------------------------------------------------------------+"""

# Moreh's running sample: the device row's cells and the Processes table, byte for byte.
RUNNING_SCREEN = """\
+-----------------------------------------------------------------------------------------------------+
|                                                    Current Version: 24.5.0  Latest Version: 24.5.0  |
+-----------------------------------------------------------------------------------------------------+
|  Device  |        Name         |       Model      |  Memory Usage  |  Total Memory  |  Utilization  |
+=====================================================================================================+
|  * 0     |      Moreh SDA      |  xLarge.512GB    |    397 MiB     |  524160 MiB    |      0 %      |
+-----------------------------------------------------------------------------------------------------+

Processes:
+-----------------------------------------------------------------------------------+
|  Device  |  Job ID  |    PID    |             Process            |  Memory Usage  |
+===================================================================================+
|       0  |  976356  |  1548305  |  python tutorial/train_gpt.py  |    397 MiB     |
+-----------------------------------------------------------------------------------+"""


def test_idle_table_is_morehs_sample():
    assert "\n".join(views.smi_screen(report(device(1, "4xlarge.2048GB", current=True)))) == IDLE
    assert len(IDLE.splitlines()[0]) == 103


def test_running_job_is_morehs_sample():
    lines = views.smi_screen(report(device(1, "xLarge.512GB", current=True, jobs=[job()])))
    assert "\n".join(lines) == RUNNING_SCREEN


def test_several_devices_mark_the_current_one_and_long_models_widen_the_column():
    lines = views.device_table(report(device(1, "xLarge.512GB"), device(2, "48xLarge.24576GB", current=True)))
    assert lines[5] == "|    0     |      Moreh SDA      |  xLarge.512GB      |  -             |  -             |" \
                       "  -            |"
    assert lines[6].startswith("|  * 1     |      Moreh SDA      |  48xLarge.24576GB  |")
    assert {len(line) for line in lines} == {105}


def test_unknown_versions_are_a_dash_and_a_long_title_keeps_the_frame_straight():
    assert views.device_table(report(current="", latest=""))[1].endswith(
        "  Current Version: -  Latest Version: -  |")
    lines = views.device_table(report(device(1, "Small.64GB"), current="v" * 80, latest="w" * 40))
    assert len({len(line) for line in lines}) == 1
    assert lines[1] == "|  " + "Current Version: " + "v" * 80 + "  Latest Version: " + "w" * 40 + "  |"


def test_waiting_jobs_are_listed_without_figures_and_idle_devices_have_no_processes():
    assert views.process_table(report(device(1, "Small.64GB"))) == []
    queued = job(feid=7, pid=12, process="python a.py", measured=False, status=pb.JOB_STATUS_QUEUED)
    lines = views.smi_screen(report(device(1, "Small.64GB", current=True, jobs=[queued]), device(2, "Large.256GB")))
    assert lines[5] == "|  * 0     |      Moreh SDA      |  Small.64GB      |  -             |  -             |" \
                       "  -            |"
    assert lines[-7:] == [
        "",
        "Processes:",
        "+--------------------------------------------------------------+",
        "|  Device  |  Job ID  |  PID  |    Process    |  Memory Usage  |",
        "+==============================================================+",
        "|       0  |       7  |   12  |  python a.py  |  -             |",
        "+--------------------------------------------------------------+",
    ]


def test_idx_shows_one_device_with_its_number_and_processes():
    r = report(device(1, "Small.64GB", current=True, jobs=[job(feid=1)]), device(2, "Large.256GB", jobs=[job(feid=2)]))
    lines = views.smi_screen(r, only=1)
    assert [line for line in lines if line.startswith("|    1 ")] == [
        "|    1     |      Moreh SDA      |  Large.256GB     |    397 MiB     |  524160 MiB    |      0 %      |"]
    assert lines[-2].startswith("|       1  |       2  |")
    assert lines.index("Processes:") == 8  # the title, header and one device row


def test_short_table_and_token_table():
    r = report(device(1, "2xLarge.1024GB"), device(2, "xLarge.512GB", current=True))
    assert views.short_table(r) == [
        "+---------------------------------------------------+",
        "|  Device  |        Name         |       Model      |",
        "+===================================================+",
        "|    0     |      Moreh SDA      |  2xLarge.1024GB  |",
        "|  * 1     |      Moreh SDA      |  xLarge.512GB    |",
        "+---------------------------------------------------+",
    ]
    # The Addendum's -t line.
    lines = views.token_table(report(device(1, "12xlarge", current=True)))
    assert lines[3] == "|  * 0     |      Moreh SDA      |  a3RfYTE2ODU1OTY3NzE2MTA=  |  12xlarge  |"
    assert lines[1] == "|  Device  |        Name         |            Token           |    Model   |"


def test_physical_devices_of_the_running_job():
    telemetry = [pb.DeviceTelemetry(backend_id=1, backend_name="back01", index=i, temperature_c=45 + i,
                                    memory_temperature_c=50, utilization_percent=0, memory_utilization_percent=0,
                                    memory_used_mib=50 - i, memory_total_mib=65520) for i in range(2)]
    r = report(device(1, "Medium.128GB", current=True, jobs=[job(total=131040, devices=telemetry)]))
    assert views.physical_screen(r) == [
        "Device 0 (Medium.128GB), Job ID 976356:",
        "+-----------------------------------------------------------------------------------------------+",
        "|  Dev  |  Location  |  Dev Temp  |  Mem Temp  |  Dev Util  |  Mem Util  |       Mem Usage      |",
        "+===============================================================================================+",
        "|    0  |  back01:0  |       45C  |       50C  |       0 %  |       0 %  |  50 MiB / 65520 MiB  |",
        "|    1  |  back01:1  |       46C  |       50C  |       0 %  |       0 %  |  49 MiB / 65520 MiB  |",
        "+-----------------------------------------------------------------------------------------------+",
    ]


def test_physical_devices_when_nothing_runs():
    assert views.physical_screen(report()) == ["No running job: the token has no device."]
    assert views.physical_screen(report(device(1, "Small.64GB", current=True))) == ["No running job on device 0."]
    queued = job(feid=9, measured=False, status=pb.JOB_STATUS_QUEUED)
    assert views.physical_screen(report(device(1, "Small.64GB"), device(2, "Small.64GB", jobs=[queued])), 1) == \
        ["No running job on device 1 (job 9 is QUEUED)."]


def choices(*entries, current_sda: int = 1, name: str = "", group: str = "") -> pb.ModelChoices:
    return pb.ModelChoices(choices=[pb.ModelChoice(model=pb.SdaModel(id=i, name=n), model_group_id=1 if g else 0,
                                                   model_group_name=g, current=c)
                                    for i, (n, g, c) in enumerate(entries, 1)],
                           current_sda=current_sda, current_model_name=name, current_model_group_name=group)


def test_the_seeds_grouped_menu():
    menu = choices(("small", "mg1", True), ("large", "mg1", False), name="small", group="mg1")
    assert [views.current_line(menu), "", *views.menu_lines(menu), "", views.model_prompt(2)] == \
        ["Current Moreh SDA: small at mg1", "", "1. small mg1 *", "2. large mg1", "", "Selection (1-2, q, Q): "]


def test_morehs_ungrouped_menu():
    menu = choices(("Small.64GB", "", True), ("Medium.128GB", "", False), name="Small.64GB")
    assert views.current_line(menu) == "Current Moreh SDA: Small.64GB"
    assert views.menu_lines(menu) == ["1. Small.64GB  *", "2. Medium.128GB"]
    assert views.menu_lines(menu, star=False) == ["1. Small.64GB", "2. Medium.128GB"]
    assert views.current_line(choices(current_sda=0)) == "Current Moreh SDA: none"
    assert views.switched_line(menu.choices[1]) == 'The Moreh SDA model is successfully switched to  "Medium.128GB".'
    assert views.device_prompt(5) == "Selection (0-4, q, Q): "


@pytest.mark.parametrize("text", ["evil\x1b[2Jname", "line\nbreak", "rtl\u202ename"])
def test_server_text_is_cleaned_before_it_is_printed(text):
    r = report(device(1, text, current=True, jobs=[job(process=text)]), current=text)
    lines = views.smi_screen(r)
    assert all(line.isprintable() for line in lines)
    assert len({len(line) for line in lines[:7]}) == 1
    menu = choices((text, text, True), name=text, group=text)
    assert all(line.isprintable() for line in [views.current_line(menu), *views.menu_lines(menu)])


def test_wide_text_keeps_the_frame_straight():
    from smclient.render import display_width

    lines = views.device_table(report(device(1, "한국어모델", current=True)))
    assert len({display_width(line) for line in lines}) == 1
