"""An ID sent as a JSON integer (`4821` for `"4821"`) is the same ID as its decimal text: the
record keeps its identity, its stored copy and everything linked to it."""

from __future__ import annotations

import pytest

from .support import SMALL, fake, small, sync

GOOD = SMALL["students"][0]  # StudentID 4821


def numeric(data: dict) -> dict:
    """SMALL with every digits-only ID (record IDs and references) sent as a JSON integer."""

    def num(value):
        if isinstance(value, str) and value.isdigit():
            return int(value)
        if isinstance(value, list):
            return [num(v) for v in value]
        return value

    id_fields = {"StudentID", "ContactID", "StaffID", "StaffID1", "StaffID2", "StaffIDs"}
    id_fields |= {"StudentIDs", "ClassID", "GroupID"}
    return {
        resource: [{k: num(v) if k in id_fields else v for k, v in r.items()} for r in records]
        for resource, records in data.items()
    }


def test_integer_ids_are_the_same_records_as_their_decimal_text(store):
    sync(store, fake())
    before = {e: store.export("oak", e, {}) for e in ("students", "contacts", "contact-links")}
    data = numeric(small())
    assert data["students"][0]["StudentID"] == 4821
    assert data["contact-links"][0]["ContactID"] == 9001
    result = sync(store, fake(data))
    assert result["status"] == "ok"
    assert (result["inserted"], result["updated"], result["deleted"]) == (0, 0, 0)
    after = {e: store.export("oak", e, {}) for e in before}
    assert after == before


def test_integer_references_in_classes_and_groups_count(store):
    teachers = [dict(s, StaffID=n) for s, n in zip(SMALL["staff"], (12, 40), strict=True)]
    classes = [
        dict(SMALL["classes"][0], StaffID1=12, StaffID2=40, StudentIDs=[4821, "4822"]),
        dict(SMALL["classes"][1], StaffIDs=[40], StudentIDs=[4821]),
    ]
    result = sync(store, fake(small(staff=teachers, classes=classes)))
    assert result["status"] == "ok"
    [reg, maths] = store.export("oak", "classes", {})
    assert reg["student_ids"] == ["4821", "4822"]
    assert reg["teachers"] == [
        {"teacher_id": "12", "role": "main"},
        {"teacher_id": "40", "role": "supervisor"},
    ]
    assert maths["teachers"] == [{"teacher_id": "40", "role": "teacher"}]


def test_a_bad_record_with_an_integer_id_keeps_its_stored_copy(store):
    sync(store, fake())
    before = store.export("oak", "students", {})
    bad = dict(GOOD, StudentID=4821, DateOfBirth="2012-13-45")
    result = sync(store, fake(small(students=[bad, SMALL["students"][1]])))
    assert result["status"] == "ok" and result["deleted"] == 0
    assert store.export("oak", "students", {}) == before
    assert store.explain("oak", "students", "4821")["reasons"][-1] == (
        "students record 4821: field DateOfBirth: not a YYYY-MM-DD date"
    )


@pytest.mark.parametrize("rid", [4821.0, True, [4821]], ids=["float", "bool", "list"])
def test_an_id_that_is_no_string_and_no_integer_is_a_record_without_an_id(store, rid, caplog):
    caplog.set_level("WARNING", logger="mis_sync.run")
    bad = dict(GOOD, StudentID=rid)
    result = sync(store, fake(small(students=[bad, SMALL["students"][1]])))
    assert result["left_out_by_reason"]["students: failed validation"] == 1
    assert any("students record (no ID): field StudentID" in m for m in caplog.messages)
