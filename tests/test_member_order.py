"""A group lists its members in their own order, not in the order they joined.

The operator's guide (section 5.A) adds your_token_1 to a group holding
your_token_2 and then lists `your_token_1, your_token_2`: the tokens in the
order they were made, oldest first.  The same holds for the other groups:
an SDA model group lists its models as `show sdamodel` does (by size: devices,
then id; model 52, 12 devices, comes between 4 and 5), a backend group its
backends by id, and a user group's memberships their SDA model groups by id.
The rules keep members so (sdamanager_stub/rules/groups.py), so every listing
and every client sees it; a journal replays to the same order, and a state file
from before, which holds members as they joined, is put in order as it loads.
"""

from __future__ import annotations

import json
from typing import Any

from helpers import FakeClock, MemoryJournal

from sdamanager_stub import snapshot
from sdamanager_stub.manager import SDAManager, new_manager
from sdamanager_stub.testing import RunningSimulator
from smclient.api import sdamanager_pb2 as pb


def ok(sim: RunningSimulator, line: str) -> str:
    status, out, err = sim.admin.run(line)
    assert (status, err) == (0, ""), f"{line}: {err}"
    return out


def made_token(sim: RunningSimulator, description: str) -> str:
    out = ok(sim, f"create token {description}")
    assert out.startswith("Create SDA Success (Token : ") and out.endswith(")\n"), out
    return out[len("Create SDA Success (Token : "):-2]


def childs(table: str) -> dict[str, str]:
    """A `show ...group` table's Childs cell by group name (the last cell of each row)."""
    rows: dict[str, str] = {}
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if line.startswith("|") and cells[0].isdigit():
            rows[cells[1]] = cells[-1]
    return rows


# ---------------------------------------------------------------- the guide's example, through the shell


def test_the_guides_user_group_example(sdamanager: RunningSimulator) -> None:
    """Guide 5.A, step by step: group_B's token moves to group_C, which then lists
    your_token_1 before your_token_2 (made first), though it joined last."""
    t1 = made_token(sdamanager, "your_token_1")
    t2 = made_token(sdamanager, "your_token_2")
    assert ok(sdamanager, "create usergroup group_A") == "Create Group Success (id : 1)\n"
    assert ok(sdamanager, f"create usergroup group_B '' {t1}") == "Create Group Success (id : 2)\n"
    assert ok(sdamanager, f"create usergroup group_C TEST {t2}") == "Create Group Success (id : 3)\n"
    assert childs(ok(sdamanager, "show usergroup")) == {"group_A": "", "group_B": t1, "group_C": t2}

    assert ok(sdamanager, "update usergroup list 2 Null") == "Update UserGroup Token list success.\n"
    assert childs(ok(sdamanager, "show usergroup")) == {"group_A": "", "group_B": "", "group_C": t2}
    assert ok(sdamanager, f"add usergroup 3 {t1}") == "Add Token to User Group success.\n"
    shown = ok(sdamanager, "show usergroup")
    assert childs(shown) == {"group_A": "", "group_B": "", "group_C": f"{t1}, {t2}"}
    assert f"|   3  |  group_C  |  TEST         |  {t1}, {t2}  |\n" in shown

    # "또는 다음과 같은 방법으로도": remove it, then set the list.
    assert ok(sdamanager, f"remove usergroup list 3 {t1}") == "Remove UserGroup Token list success.\n"
    assert childs(ok(sdamanager, "show usergroup"))["group_C"] == t2
    assert ok(sdamanager, f"update usergroup list 3 {t1},{t2}") == "Update UserGroup Token list success.\n"
    assert childs(ok(sdamanager, "show usergroup"))["group_C"] == f"{t1}, {t2}"
    # The order the list is given in does not matter either.
    ok(sdamanager, f"update usergroup list 3 {t2},{t1}")
    assert childs(ok(sdamanager, "show usergroup"))["group_C"] == f"{t1}, {t2}"


def test_every_listing_and_client_sees_the_tokens_order(sdamanager: RunningSimulator) -> None:
    tokens = [made_token(sdamanager, f"t{i}") for i in range(4)]
    ok(sdamanager, f"create usergroup g desc {tokens[3]},{tokens[1]}")
    ok(sdamanager, f"add usergroup 1 {tokens[2]}")
    ok(sdamanager, f"add usergroup 1 {tokens[0]}")
    assert childs(ok(sdamanager, "show usergroup 1"))["g"] == ", ".join(tokens)
    ok(sdamanager, "set output json")
    assert json.loads(ok(sdamanager, "show usergroup"))[0]["childs"] == tokens
    (group,) = sdamanager.admin.stub.ListUserGroups(pb.ListUserGroupsRequest(),
                                                    metadata=sdamanager.admin.metadata).groups
    assert list(group.tokens) == tokens
    # Leaving keeps the others in order; a token deleted leaves its groups.
    ok(sdamanager, f"remove usergroup 1 {tokens[1]}")
    ok(sdamanager, f"delete token {tokens[2]}")
    assert json.loads(ok(sdamanager, "show usergroup"))[0]["childs"] == [tokens[0], tokens[3]]
    ok(sdamanager, "set output table")
    newest = made_token(sdamanager, "newest")
    ok(sdamanager, f"add usergroup 1 {newest}")
    ok(sdamanager, f"add usergroup 1 {tokens[1]}")
    assert childs(ok(sdamanager, "show usergroup"))["g"] == ", ".join([tokens[0], tokens[1], tokens[3], newest])


def test_model_groups_list_models_by_size_as_show_sdamodel_does(sdamanager: RunningSimulator) -> None:
    """Model 52 (1.5xLarge, 12 devices) comes between 4 (8 devices) and 5 (16), as in
    `show sdamodel` and the VMs' model menus; models of one size by id."""
    ok(sdamanager, "create sdamodel Tiny.32GB 1")  # id 53, the size of model 1
    ok(sdamanager, "create sdamodelgroup mg 0 5,52,53")
    assert childs(ok(sdamanager, "show sdamodelgroup"))["mg"] == "Tiny.32GB, 1.5xLarge.768GB, 2xLarge.1024GB"
    ok(sdamanager, "add sdamodelgroup 1 4")
    ok(sdamanager, "add sdamodelgroup 1 1")
    assert childs(ok(sdamanager, "show sdamodelgroup"))["mg"] == (
        "Small.64GB, Tiny.32GB, xLarge.512GB, 1.5xLarge.768GB, 2xLarge.1024GB")
    ok(sdamanager, "update sdamodelgroup list 1 52,3,1")
    assert childs(ok(sdamanager, "show sdamodelgroup 1"))["mg"] == "Small.64GB, Large.256GB, 1.5xLarge.768GB"
    # A VM's model menu (moreh-switch-model) lists a group's models in the group's order.
    token = made_token(sdamanager, "vm")
    ok(sdamanager, f"create usergroup ug vm {token}")
    ok(sdamanager, "add membership 1 1")
    menu = sdamanager.manager.model_menu(token)
    assert [(c.model.name, c.group.name) for c in menu.choices] == [
        ("Small.64GB", "mg"), ("Large.256GB", "mg"), ("1.5xLarge.768GB", "mg")]
    ok(sdamanager, "set output json")
    assert json.loads(ok(sdamanager, "show sdamodelgroup"))[0]["childs"] == [
        "Small.64GB", "Large.256GB", "1.5xLarge.768GB"]


def test_backend_groups_list_backends_by_id(sdamanager: RunningSimulator) -> None:
    ok(sdamanager, "create backendgroup bg 4,2")
    assert childs(ok(sdamanager, "show backendgroup"))["bg"] == "back02, back04"
    ok(sdamanager, "add backendgroup 1 1")
    ok(sdamanager, "add backendgroup 1 3")
    assert childs(ok(sdamanager, "show backendgroup"))["bg"] == "back01, back02, back03, back04"
    ok(sdamanager, "update backendgroup list 1 3,1")
    assert childs(ok(sdamanager, "show backendgroup"))["bg"] == "back01, back03"
    assert childs(ok(sdamanager, "show backendgroup"))["default_backend_group"] == "back02, back04"


def test_memberships_list_model_groups_by_id(sdamanager: RunningSimulator) -> None:
    ok(sdamanager, "create usergroup ug1")
    for name in ("mg1", "mg2", "mg3"):
        ok(sdamanager, f"create sdamodelgroup {name} 0")
    for model_group in (3, 1, 2):
        ok(sdamanager, f"add membership 1 {model_group}")
    assert childs(ok(sdamanager, "show membership"))["ug1"] == "mg1, mg2, mg3"
    ok(sdamanager, "remove membership 1 2")
    assert childs(ok(sdamanager, "show membership 1"))["ug1"] == "mg1, mg3"
    relationship = ok(sdamanager, "show relationship")
    assert relationship.index("mg1(1)") < relationship.index("mg3(3)")


# ---------------------------------------------------------------- the rules: same instant, replay, state files


def test_tokens_made_at_the_same_instant_keep_the_order_they_were_made_in(m: SDAManager) -> None:
    tokens = [m.create_token(f"t{i}").value for i in range(5)]  # the clock does not move: one `created`
    assert len({m.tokens[t].created for t in tokens}) == 1
    ug = m.create_usergroup("g", "", [tokens[4], tokens[0], tokens[2]])
    assert ug.tokens == [tokens[0], tokens[2], tokens[4]]
    m.add_usergroup_token(ug.id, tokens[3])
    m.add_usergroup_token(ug.id, tokens[1])
    assert m.user_groups[ug.id].tokens == tokens


def test_an_old_journal_replays_to_the_ordered_state(m: SDAManager, clock: FakeClock) -> None:
    """A journal keeps each change's arguments as they were given (a list in any order, the
    members added one by one): the rules that run again on replay put them in order."""
    m.journal = journal = MemoryJournal()
    a, b, c = (m.create_token(d).value for d in ("a", "b", "c"))
    ug = m.create_usergroup("g", "", [c, a])
    m.add_usergroup_token(ug.id, b)
    mg = m.create_sdamodelgroup("mg", 0, [5, 52])
    m.add_sdamodelgroup_model(mg.id, 1)
    m.create_sdamodelgroup("mg2", 0)
    m.add_membership(ug.id, 2)
    m.add_membership(ug.id, mg.id)
    again = new_manager(backends=4, devices=8, clock=FakeClock(0))
    for when, action, arguments, made, peer in journal.changes:
        again.replay(action, json.loads(arguments), at=when, made=made, peer=peer)
    assert again.user_groups[ug.id].tokens == [a, b, c]
    assert again.model_groups[mg.id].model_ids == [1, 52, 5]
    assert again.memberships == {ug.id: [1, 2]}
    assert snapshot.capture(again)["user_groups"] == snapshot.capture(m)["user_groups"]


def joined_in_reverse(state: dict[str, Any]) -> dict[str, Any]:
    """A state as a file from before this rule holds it: members in the order they joined
    (here: each group's members reversed)."""
    state = json.loads(json.dumps(state))
    for group in state["user_groups"]:
        group["tokens"].reverse()
    for group in state["model_groups"]:
        group["model_ids"].reverse()
    for pair in state["memberships"]:
        pair[1].reverse()
    return state


def test_a_state_file_from_before_loads_with_its_members_in_order(sdamanager: RunningSimulator) -> None:
    """A snapshot holding members in join order is put in order as it loads (so listings
    and later changes see the rule's order); the shell then lists them so."""
    old = new_manager(backends=4, devices=8, clock=FakeClock(0))
    a, b, c = (old.create_token(d).value for d in ("first", "second", "third"))
    ug = old.create_usergroup("g", "", [a, b, c])
    old.create_sdamodelgroup("mg1", 0, [1, 52, 5])
    old.create_sdamodelgroup("mg2", 0)
    old.add_membership(ug.id, 1)
    old.add_membership(ug.id, 2)
    state = joined_in_reverse(snapshot.capture(old))
    assert state["user_groups"][0]["tokens"] == [c, b, a]

    m = sdamanager.manager
    with m.lock:
        snapshot.restore(m, state)
    assert m.user_groups[ug.id].tokens == [a, b, c]
    assert m.model_groups[1].model_ids == [1, 52, 5]
    assert m.memberships == {ug.id: [1, 2]}
    assert childs(ok(sdamanager, "show usergroup"))["g"] == f"{a}, {b}, {c}"
    assert childs(ok(sdamanager, "show sdamodelgroup"))["mg1"] == "Small.64GB, 1.5xLarge.768GB, 2xLarge.1024GB"
    assert childs(ok(sdamanager, "show membership"))["g"] == "mg1, mg2"
    # Changes after the load keep the order (the tokens' order is the restored state's).
    d = made_token(sdamanager, "fourth")
    ok(sdamanager, f"remove usergroup 1 {b}")
    ok(sdamanager, f"add usergroup 1 {d}")
    ok(sdamanager, f"add usergroup 1 {b}")
    assert childs(ok(sdamanager, "show usergroup"))["g"] == f"{a}, {b}, {c}, {d}"
