"""Bad records (sync-rules.md, Safeguards): each is left out with a reason naming resource,
ID and field, the run goes on, and a stored copy stays exactly as it was."""

from __future__ import annotations

import pytest

from .support import SMALL, fake, small, sync

GOOD = SMALL["students"][0]  # StudentID 4821, in classes C77 and C91


def run_with_bad_student(store, bad: object):
    """First a good run, then one where student 4821 is replaced by `bad`."""
    sync(store, fake())
    before = store.export("oak", "students", {})
    students = [bad, SMALL["students"][1]]
    result = sync(store, fake(small(students=students)))
    return result, before


@pytest.mark.parametrize(
    "bad, reason",
    [
        (
            dict(GOOD, DateOfBirth="2012-13-45"),
            "students record 4821: field DateOfBirth: not a YYYY-MM-DD date",
        ),
        (
            dict(GOOD, DateOfBirth="last spring"),
            "students record 4821: field DateOfBirth: not a YYYY-MM-DD date",
        ),
        (
            dict(GOOD, Surname=42),
            "students record 4821: field Surname: Expected `str | null`, got `int`",
        ),
        (
            dict(GOOD, Surname={"first": "Rowan"}),
            "students record 4821: field Surname: Expected `str | null`, got `object`",
        ),
        (
            dict(GOOD, Surname="x" * 1_000_000),
            "students record 4821: field Surname: Expected `str` of length <= 1000",
        ),
    ],
    ids=["impossible-date", "no-date", "number", "object", "1MB"],
)
def test_bad_record_is_left_out_with_a_reason_and_its_stored_copy_kept(store, bad, reason):
    result, before = run_with_bad_student(store, bad)
    assert result["status"] == "ok"
    assert result["left_out_by_reason"] == {"students: failed validation": 1}
    assert store.export("oak", "students", {}) == before
    assert store.changes("oak") == []  # nothing else rippled: classes, links, contacts unchanged
    explained = store.explain("oak", "students", "4821")
    assert explained["kept"] is True  # as export says: the stored copy stands
    assert explained["reasons"] == [
        "kept unchanged: the MIS now sends an invalid record",
        reason,
    ]


@pytest.mark.parametrize(
    "bad, reason",
    [
        ({k: v for k, v in GOOD.items() if k != "StudentID"}, "field StudentID: missing"),
        (dict(GOOD, StudentID="  "), "field StudentID: blank ID"),
        (["4821", "Amy"], "Expected `object`, got `array`"),
    ],
    ids=["no-id", "blank-id", "list"],
)
def test_bad_record_without_an_id_is_reported_and_the_run_goes_on(store, bad, reason, caplog):
    """With no ID there is no stored copy to keep: the record it was is no longer sent."""
    caplog.set_level("WARNING", logger="mis_sync.run")
    result, _ = run_with_bad_student(store, bad)
    assert result["status"] == "ok"
    assert result["left_out_by_reason"]["students: failed validation"] == 1
    assert f"oak: left out: students record (no ID): {reason}" in caplog.messages
    assert "4822" in [s["id"] for s in store.export("oak", "students", {})]


def test_bad_record_without_a_stored_copy_is_just_left_out(store):
    bad = dict(GOOD, DateOfBirth="2012-02-30")
    result = sync(store, fake(small(students=[bad, SMALL["students"][1]])))
    assert result["status"] == "ok"
    assert [s["id"] for s in store.export("oak", "students", {})] == ["4822"]
    assert store.explain("oak", "students", "4821")["reasons"][1] == (
        "students record 4821: field DateOfBirth: not a YYYY-MM-DD date"
    )


@pytest.mark.parametrize(
    "name",
    [
        "Zoë",
        "Nguyễn Thị",
        "Øyelowo",
        "李小龍",
        "محمد",
        "Ŋúñez\u200d",
        "A\u0007b\u001fc\x7f",
        "nul\x00byte",
    ],
)
def test_non_latin_names_and_control_characters_round_trip_unchanged(store, name):
    students = [dict(GOOD, KnownName=name, Surname=name), SMALL["students"][1]]
    sync(store, fake(small(students=students)))
    [amy] = [s for s in store.export("oak", "students", {}) if s["id"] == "4821"]
    assert (amy["known_name"], amy["surname"]) == (name, name)
    assert sync(store, fake(small(students=students)))["updated"] == 0
