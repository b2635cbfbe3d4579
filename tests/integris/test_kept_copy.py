"""The kept-copy rule (sync-rules.md, Safeguards) when the stored copy of a bad record is
itself left out by this run's rules: a record we could not read is never deleted on a guess.

Student 4821 is stored; then Datashare sends it with an impossible date, and its classes no
longer list it. Its stored copy stands in for it, fails eligibility (in no class), and is
still kept unchanged; what depends on it follows the rules as usual.
"""

from __future__ import annotations

from .support import SMALL, fake, small, sync

BAD_DATE = "students record 4821: field DateOfBirth: not a YYYY-MM-DD date"


def moved_out(student: dict) -> dict:
    """SMALL with 4821 replaced by `student`, and no class listing 4821 any more."""
    data = small(students=[student, SMALL["students"][1]])
    for klass in data["classes"]:
        klass["StudentIDs"] = ["4822"]
    return data


def stored_students(store) -> dict:
    return {s["id"]: s for s in store.export("oak", "students", {})}


def test_a_bad_records_stored_copy_left_out_by_the_rules_is_still_not_deleted(store):
    sync(store, fake())
    before = stored_students(store)["4821"]

    result = sync(store, fake(moved_out(dict(SMALL["students"][0], DateOfBirth="2012-13-45"))))
    assert result["status"] == "ok"
    assert stored_students(store)["4821"] == before
    events = {(c["entity"], c["id"]): c for c in store.changes("oak")}
    assert ("students", "4821") not in events
    assert result["left_out_by_reason"]["students: failed validation"] == 1
    assert store.explain("oak", "students", "4821")["reasons"] == [
        "kept unchanged: the MIS now sends an invalid record",
        BAD_DATE,
        "stored copy left out too: in no class",
    ]
    # its links follow the rules: the pupil is not kept this run
    assert events[("contact-links", "4821:9001-1")]["op"] == "delete"

    # the same answer again changes nothing; once the record reads, the rules decide
    again = sync(store, fake(moved_out(dict(SMALL["students"][0], DateOfBirth="2012-13-45"))))
    assert (again["inserted"], again["updated"], again["deleted"]) == (0, 0, 0)
    fixed = sync(store, fake(moved_out(SMALL["students"][0])))
    assert fixed["deleted"] == 1
    assert "4821" not in stored_students(store)
    assert store.explain("oak", "students", "4821")["reasons"] == ["in no class"]
