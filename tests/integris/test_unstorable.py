"""One bad record never blocks a school: a key that a database cannot store (too long, a NUL
or another control character) is left out as invalid, the same on SQLite and PostgreSQL, and
no database error text with its parameters ever reaches a message or a log."""

from __future__ import annotations

import logging

import pytest

from mis_sync.core import pipeline
from mis_sync.core.errors import StoreError

from .support import SMALL, fake, small, sync

GOOD = SMALL["students"][0]  # StudentID 4821, Amy Rowan, in classes C77 and C91
NAMES = ("Amy", "Amelia", "Rowan", "Benedikt", "Ashby")


@pytest.mark.parametrize(
    "rid, shown, reason",
    [
        ("X" * 256, "X" * 40 + "...", "field id: longer than 255 characters (256)"),
        ("48\x0021", "48\\x0021", "field id: holds a control character (U+0000)"),
        ("48\n21", "48\\x0a21", "field id: holds a control character (U+000A)"),
        ("48\x9b21", "48\\x9b21", "field id: holds a control character (U+009B)"),
    ],
    ids=["too-long", "nul", "newline", "c1"],
)
def test_an_unstorable_student_id_is_left_out_the_same_on_both_databases(
    store, rid, shown, reason, caplog
):
    caplog.set_level(logging.DEBUG)
    bad = dict(GOOD, StudentID=rid)
    students = [bad, SMALL["students"][1]]
    classes = [dict(c, StudentIDs=[*c["StudentIDs"], rid]) for c in SMALL["classes"]]
    result = sync(store, fake(small(students=students, classes=classes)))
    assert result["status"] == "ok"
    assert result["left_out_by_reason"]["students: failed validation"] == 1
    assert [s["id"] for s in store.export("oak", "students", {})] == ["4822"]
    [warning] = [m for m in caplog.messages if "left out: students record" in m]
    assert warning == f"oak: left out: students record (no usable ID: '{shown}'): {reason}"
    assert "\x00" not in warning and "\n" not in warning
    assert not any(name in m for m in caplog.messages for name in NAMES)
    # the next run with the same source changes nothing
    assert sync(store, fake(small(students=students, classes=classes)))["updated"] == 0


def test_an_unstorable_contact_id_leaves_out_the_contact_and_its_link(store):
    contacts = [dict(SMALL["contacts"][1], ContactID="90\x0002"), SMALL["contacts"][0]]
    links = [SMALL["contact-links"][0], dict(SMALL["contact-links"][1], ContactID="90\x0002")]
    result = sync(store, fake(small(contacts=contacts, contact_links=links)))
    assert result["status"] == "ok"
    by_reason = result["left_out_by_reason"]
    assert by_reason["contacts: failed validation"] == 1
    assert by_reason["contact-links: failed validation"] == 1
    assert [c["id"] for c in store.export("oak", "contacts", {})] == ["9001-1", "9001-2"]


def test_a_link_whose_key_is_too_long_is_left_out(store):
    long_id = "C" * 200
    contacts = [*SMALL["contacts"], dict(SMALL["contacts"][1], ContactID=long_id, Forename="Ida")]
    links = [*SMALL["contact-links"], {"StudentID": "4822" * 20, "ContactID": long_id}]
    result = sync(store, fake(small(contacts=contacts, contact_links=links)))
    assert result["left_out_by_reason"]["contact-links: failed validation"] == 1
    assert result["status"] == "ok"


def test_a_bad_records_validation_error_with_an_unstorable_id_stays_out_of_left_out(store):
    """A record that failed validation and has no storable ID is one without an ID."""
    bad = dict(GOOD, StudentID="48\x0021", DateOfBirth="yesterday")
    result = sync(store, fake(small(students=[bad, SMALL["students"][1]])))
    assert result["status"] == "ok"
    assert result["left_out_by_reason"]["students: failed validation"] == 1
    assert store.explain("oak", "students", "4821")["reasons"] == ["never sent by the source"]
    assert [s["id"] for s in store.export("oak", "students", {})] == ["4822"]


def test_a_database_error_says_its_first_line_and_never_the_record(pg_url, monkeypatch, caplog):
    """Were a record to reach the database unchecked, the message names the error only."""
    from mis_sync.core.store import Store
    from tests.conftest import reset_postgres

    reset_postgres(pg_url)
    store = Store(pg_url)
    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr(pipeline, "reject_unstorable", lambda dataset: None)
    try:
        students = [dict(GOOD, StudentID="X" * 300), SMALL["students"][1]]
        with pytest.raises(StoreError) as failed:
            sync(store, fake(small(students=students)))
        message = str(failed.value)
        assert message == (
            "the database refused the run: StringDataRightTruncation:"
            " value too long for type character varying(255)"
        )
        assert failed.value.exit_code == 2
        assert failed.value.__cause__ is None and failed.value.__suppress_context__
        [run] = store.runs("oak")
        assert (run["status"], run["message"]) == ("failed", message)
        logged = " ".join(caplog.messages) + message + run["message"]
        assert "2012-03-04" not in logged  # IDs may be named; a pupil's data never
        assert not any(name in logged for name in NAMES)
    finally:
        store.close()
