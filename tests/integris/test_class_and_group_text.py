"""A class's code and description, and a group's description, as Datashare sends them
(sync-rules.md, Canonical model): each stored in its own field, trimmed, never swapped."""

from __future__ import annotations

from .support import fake, small, sync

LOCAL = {"teachers": {"room"}}


def by_id(store, entity) -> dict:
    return {r["id"]: r for r in store.export("oak", entity, LOCAL)}


def test_class_code_and_description_and_group_description_reach_the_store(store):
    data = small()
    data["classes"][0].update(ClassCode=" 7A ", Description=" 7A Registration ")
    data["classes"][1].update(ClassCode="7Ma1", Description="Year 7 Maths set 1")
    data["groups"][0].update(Description="  Red House ")
    sync(store, fake(data))
    classes, groups = by_id(store, "classes"), by_id(store, "groups")
    assert (classes["C77"]["code"], classes["C77"]["description"]) == ("7A", "7A Registration")
    assert (classes["C91"]["code"], classes["C91"]["description"]) == (
        "7Ma1",
        "Year 7 Maths set 1",
    )
    assert groups["G5"]["description"] == "Red House"


def test_a_blank_code_or_description_is_not_set_and_a_change_is_an_update(store):
    sync(store, fake())
    data = small()
    data["classes"][1].update(ClassCode="", Description="Year 7 Maths, top set")
    data["groups"][0].update(Description=None)
    result = sync(store, fake(data))
    assert result["updated"] == 2
    classes, groups = by_id(store, "classes"), by_id(store, "groups")
    assert (classes["C91"]["code"], classes["C91"]["description"]) == (
        None,
        "Year 7 Maths, top set",
    )
    assert groups["G5"]["description"] is None
    changed = {(c["entity"], c["id"]): c["changes"] for c in store.changes("oak")}
    assert changed[("classes", "C91")] == {
        "code": ["7Ma1", None],
        "description": ["Year 7 Maths set 1", "Year 7 Maths, top set"],
    }
    assert changed[("groups", "G5")] == {"description": ["Red House", None]}
