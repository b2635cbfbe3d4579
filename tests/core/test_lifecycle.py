"""Pupils' data lifecycle (docs/data-protection.md): the retention purge, erasure, the audit
of hand edits and the subject access export, on SQLite and PostgreSQL. The clock is the
test's: `now` is handed to the purge, and the runs it compares with are stamped as they ran.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, select, update

from mis_sync.core.errors import ConfigError, SafeguardStop
from mis_sync.core.store import tables as t
from mis_sync.core.store.lifecycle import ERASED, os_user

from .builders import klass, link, school, student
from .stored import stored_text
from .test_tracking import Source, _school_of, sync

DAY = timedelta(days=1)


def later(days: int) -> datetime:
    return datetime.now(UTC) + days * DAY


def s3_leaves():
    ds = school()
    ds.records["classes"]["REG7"] = klass("REG7", ["S1", "S2"], ["T1", "T2"], kind="registration")
    return ds


def events_of(store, entity, rid):
    e = t.events.c
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(e.op, e.changes).where(e.entity == entity, e.id == rid).order_by(e.event)
        )
        return [(op, json.loads(changes)) for op, changes in rows]


def stored_row(store, entity, rid, key="s1"):
    with store.engine.connect() as conn:
        row = t.record_row(t.records, key, entity, rid)
        return conn.execute(select(t.records.c.deleted).where(row)).first()


# -- retention ------------------------------------------------------------------------------


def test_a_record_gone_longer_than_retention_is_purged_and_its_events_lose_their_values(store):
    sync(store, Source())
    sync(store, Source(s3_leaves))
    before = events_of(store, "students", "S3")
    assert [op for op, _ in before] == ["insert", "delete"]

    kept = store.purge("s1", 400, now=later(399))
    assert kept["records"] == kept["events"] == 0
    assert stored_row(store, "students", "S3").deleted is True

    done = store.purge("s1", 400, now=later(401))
    assert done["records"] == 1
    assert stored_row(store, "students", "S3") is None
    assert store.explain("s1", "students", "S3")["reasons"] == [
        "no longer sent by the source, and purged after the retention period"
    ]
    after = events_of(store, "students", "S3")
    # what happened stays: op, entity, ID and which fields; the values do not
    assert [op for op, _ in after] == ["insert", "delete"]
    assert after[0][1] == {k: None if v is None else ERASED for k, v in before[0][1].items()}
    assert after[1][1] == {"reason": ERASED}
    assert "SS3" not in stored_text(store.engine)
    # the live records are untouched; their old events keep field names only
    assert [s["id"] for s in store.export("s1", "students", {})] == ["S1", "S2"]
    assert events_of(store, "students", "S1")[0][1]["surname"] == ERASED
    with store.engine.connect() as conn:
        assert conn.execute(select(t.runs.c.summary)).scalars().all() == [None, None]


def test_a_purge_goes_over_nothing_twice_and_a_dry_run_changes_nothing(store):
    sync(store, Source())
    sync(store, Source(s3_leaves))
    before = stored_text(store.engine)
    dry = store.purge("s1", 400, now=later(401), dry_run=True)
    assert (dry["records"], dry["dry_run"]) == (1, True) and dry["events"] > 0
    assert stored_text(store.engine) == before
    assert store.purge("s1", 400, now=later(401))["records"] == 1
    statements = []
    listener = lambda conn, cursor, stmt, *a: statements.append(stmt)  # noqa: E731
    event.listen(store.engine, "before_cursor_execute", listener)
    again = store.purge("s1", 400, now=later(401))
    event.remove(store.engine, "before_cursor_execute", listener)
    assert (again["records"], again["events"], again["summaries"]) == (0, 0, 0)
    # what the first purge went over is not read again: only runs and purges are looked at
    assert not [s for s in statements if "events" in s or "records" in s], statements


def test_a_pupil_back_within_retention_is_restored_and_after_it_stored_anew(store):
    sync(store, Source())
    sync(store, Source(s3_leaves))
    store.purge("s1", 400, now=later(399))
    back = sync(store, Source())
    assert {(c["id"], c["op"]) for c in store.changes("s1", back["run"])} >= {("S3", "restore")}

    sync(store, Source(s3_leaves))
    store.purge("s1", 400, now=later(401))
    again = sync(store, Source())
    ops = {(c["entity"], c["id"]): c["op"] for c in store.changes("s1", again["run"])}
    assert ops[("students", "S3")] == "insert"  # same ID, no history to restore
    assert store.explain("s1", "students", "S3")["kept"] is True


def test_mass_delete_and_change_tracking_keep_working_across_purges(store):
    sync(store, Source(lambda: _school_of(30)))
    store.purge("s1", 400, now=later(401))  # old events lose values; no record is gone
    unchanged = sync(store, Source(lambda: _school_of(30)))
    assert (unchanged["inserted"], unchanged["updated"], unchanged["deleted"]) == (0, 0, 0)
    assert store.changes("s1", unchanged["run"]) == []
    with pytest.raises(SafeguardStop) as stop:
        sync(store, Source(lambda: _school_of(20)))
    assert "10 of 33 students" in str(stop.value)
    assert sync(store, Source(lambda: _school_of(20)), allow_mass_delete=True)["deleted"] == 10

    assert store.purge("s1", 400, now=later(401))["records"] == 10
    assert sync(store, Source(lambda: _school_of(20)))["inserted"] == 0
    # the purged rows no longer count as stored: 10 more gone of 23 live is a mass delete
    with pytest.raises(SafeguardStop) as stop:
        sync(store, Source(lambda: _school_of(10)))
    assert "10 of 23 students" in str(stop.value)
    returned = sync(store, Source(lambda: _school_of(30)))
    assert (returned["inserted"], returned["deleted"]) == (10, 0)
    ops = {c["op"] for c in store.changes("s1", returned["run"]) if c["entity"] == "students"}
    assert ops == {"insert"}


def test_every_successful_run_ends_with_the_purge(store):
    sync(store, Source())
    sync(store, Source(s3_leaves))
    with store.engine.begin() as conn:  # both runs ran 500 days ago
        conn.execute(update(t.runs).values(started=t.stamp(later(-500))))
    sync(store, Source(s3_leaves), options={"retention_days": 1000})
    assert stored_row(store, "students", "S3").deleted is True
    sync(store, Source(s3_leaves))  # the default, 400 days
    assert stored_row(store, "students", "S3") is None


def test_a_room_set_before_a_teacher_left_goes_with_the_purge(store):
    """A room can only be set on a stored teacher (`set`); once they leave and are purged,
    the room and the value in its audit event go too."""

    def t1_gone():
        ds = school()
        ds.records["teachers"].pop("T1")
        return ds

    sync(store, Source())
    store.set_local("s1", "teachers", "T1", "room", "Zq-Lab-9")
    sync(store, Source(t1_gone))
    with store.engine.begin() as conn:
        conn.execute(update(t.runs).values(started=t.stamp(later(-500))))
    run = store.start_run("s1", "static")  # a run of today, without the purge that ends one
    store.apply(run, "s1", t1_gone(), local={}, threshold=1.0)
    assert store.purge("s1", 400)["records"] == 1
    assert "Zq-Lab-9" not in stored_text(store.engine)
    [local] = [
        c for r in store.runs("s1") for c in store.changes("s1", r["run"]) if c["op"] == "local"
    ]
    assert local["changes"] == {"room": [None, ERASED]}


def test_left_out_rows_go_when_no_run_has_refreshed_them_within_retention(store):
    def with_a_club():
        ds = school()
        ds.add("classes", [klass("CLUB", ["S1"], ["T1"], kind=None, source_type="Club")])
        return ds

    sync(store, Source(with_a_club))
    assert store.explain("s1", "classes", "CLUB")["kept"] is False
    assert store.purge("s1", 400, now=later(399))["left_out"] == 0
    assert store.purge("s1", 400, now=later(401))["left_out"] == 1
    assert store.explain("s1", "classes", "CLUB")["reasons"] == ["never sent by the source"]
    sync(store, Source(with_a_club))  # the next run's worklist is whole again
    assert store.explain("s1", "classes", "CLUB")["reasons"][0].startswith("type")


def test_a_database_error_shows_no_stored_value(store):
    row = {"school": "s1", "entity": "students", "id": "S1", "hash": "h", "deleted": False}
    row |= {"run": 1, "data": '{"surname": "Zq-Private-3"}'}
    with store.engine.begin() as conn:
        conn.execute(t.records.insert(), row)
    with pytest.raises(Exception) as error, store.engine.begin() as conn:
        conn.execute(t.records.insert(), row)  # the same key again
    assert "Zq-Private-3" not in str(error.value)


def test_a_failing_purge_never_fails_the_run(store, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "purge", broken)
    with caplog.at_level(logging.WARNING, logger="mis_sync.run"):
        result = sync(store, Source())
    assert result["status"] == "ok" and store.runs("s1")[0]["status"] == "ok"
    assert "retention purge failed, left for the next run: disk full" in caplog.text


def test_retention_days_is_checked():
    from mis_sync.core.config import Config, bind_school

    config = Config(schools={"s1": {"connector": "static", "retention_days": 0}})
    with pytest.raises(ConfigError, match="schools.s1.retention_days: Expected `int` >= 1"):
        bind_school(config, "s1", [])
    assert bind_school(Config(schools={"s1": {"connector": "x"}}), "s1", []).retention_days == 400


# -- erasure --------------------------------------------------------------------------------

PUPIL = {"known_name": "Zelphine", "surname": "Quorrowby", "date_of_birth": "2011-02-03"}
RELATIONSHIP = "Stepgranny-q"


def pupil_school(**changes):
    def make():
        ds = school()
        ds.records["students"]["S1"] = student("S1", **{**PUPIL, **changes})
        ds.records["contact-links"]["S1:C1"] = link("S1", "C1", relationship=RELATIONSHIP)
        return ds

    return make


def test_forget_removes_every_trace_and_records_the_erasure(store):
    sync(store, Source(pupil_school(surname="Quorrowbie")))
    sync(store, Source(pupil_school()))  # an update: old and new names in an event

    def state_too():
        ds = pupil_school()()
        ds.source_state = f"picture with {PUPIL['surname']}".encode()
        ds.leave_out("contact-links", "S1:C1", "in no kept class")  # a left-out row of theirs
        return ds

    sync(store, Source(state_too))
    text = stored_text(store.engine)
    assert all(v in text for v in [*PUPIL.values(), "Quorrowbie", RELATIONSHIP])

    when = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    forgets_at = "2026-12-01T09:30:00Z"
    done = store.forget("s1", "students", "S1", who="dpo", now=when)
    assert done["keys"] == [("students", "S1"), ("contact-links", "S1:C1")]
    assert done["source_state"] == "dropped"  # this connector cannot edit it
    text = stored_text(store.engine)
    for value in [*PUPIL.values(), "Quorrowbie", RELATIONSHIP]:
        assert value not in text
    for table in (t.records, t.left_out, t.local_fields):  # no row of theirs is left
        with store.engine.connect() as conn:
            rows = conn.execute(select(table.c.entity, table.c.id)).all()
        assert not {tuple(r) for r in rows} & set(done["keys"]), table.name
    assert stored_row(store, "contacts", "C1") is not None  # the parent is someone else
    assert store.explain("s1", "students", "S1")["reasons"] == [
        f"forgotten: erased by dpo at {forgets_at}"
    ]
    forgets = [c for c in store.changes("s1") if c["op"] == "forget"]
    assert [(c["entity"], c["id"], c["who"], c["changes"]) for c in forgets] == [
        ("students", "S1", "dpo", {}),
        ("contact-links", "S1:C1", "dpo", {}),
    ]
    # the MIS still sends the pupil: the next run stores them again, as new
    back = sync(store, Source(pupil_school()))
    assert ("students", "S1", "insert") in {
        (c["entity"], c["id"], c["op"]) for c in store.changes("s1", back["run"])
    }


def test_forget_and_purge_touch_no_other_school(store):
    for key in ("s1", "s2"):
        sync(store, Source(), key=key)
        sync(store, Source(s3_leaves), key=key)
    other = store.person("s2", "students", "S1")
    store.forget("s1", "students", "S1")
    assert store.purge("s1", 400, now=later(401))["records"] == 1
    assert store.person("s2", "students", "S1") == other
    assert stored_row(store, "students", "S3", key="s2").deleted is True
    assert [r["id"] for r in store.export("s2", "students", {})] == ["S1", "S2"]


def test_forget_of_a_contact_takes_their_links_and_nothing_else(store):
    sync(store, Source())
    done = store.forget("s1", "contacts", "C2")
    assert done["keys"] == [("contacts", "C2"), ("contact-links", "S2:C2")]
    assert "cC2@example.org" not in stored_text(store.engine)
    assert [c["id"] for c in store.export("s1", "contacts", {})] == ["C1"]
    assert [r["id"] for r in store.export("s1", "students", {})] == ["S1", "S2", "S3"]


def test_forget_of_a_teacher_takes_their_local_fields(store):
    sync(store, Source())
    store.set_local("s1", "teachers", "T1", "room", "Zq-Room-5")
    assert store.forget("s1", "teachers", "T1")["removed"]["local fields"] == 1
    assert "Zq-Room-5" not in stored_text(store.engine)


def test_forget_of_someone_never_stored_is_an_error_and_changes_nothing(store):
    sync(store, Source())
    before = stored_text(store.engine)
    with pytest.raises(ConfigError, match="nothing is stored about students 'S9'"):
        store.forget("s1", "students", "S9")
    assert stored_text(store.engine) == before


# -- the audit of hand edits ----------------------------------------------------------------


def test_local_edits_are_events_with_who_when_old_and_new(store):
    result = sync(store, Source())
    at = datetime(2026, 11, 30, 8, 15, tzinfo=UTC)
    store.set_local("s1", "teachers", "T1", "room", "B12", who="alice", now=at)
    store.set_local("s1", "teachers", "T1", "room", "C4", who="bob", now=at + DAY)
    store.set_local("s1", "teachers", "T1", "room", "C4", who="bob")  # no change: no event
    store.set_local("s1", "teachers", "T2", "room", "A1")
    local = [c for c in store.changes("s1") if c["op"] == "local"]
    assert local == [
        {
            "run": result["run"],
            "entity": "teachers",
            "id": "T1",
            "op": "local",
            "changes": {"room": [None, "B12"]},
            "who": "alice",
            "when": "2026-11-30T08:15:00Z",
        },
        {
            "run": result["run"],
            "entity": "teachers",
            "id": "T1",
            "op": "local",
            "changes": {"room": ["B12", "C4"]},
            "who": "bob",
            "when": "2026-12-01T08:15:00Z",
        },
        {**local[2], "id": "T2", "changes": {"room": [None, "A1"]}, "who": os_user()},
    ]
    assert all("who" not in c for c in store.changes("s1") if c["op"] != "local")


# -- subject access -------------------------------------------------------------------------


def test_the_subject_access_export_holds_everything_stored_about_the_pupil(store):
    sync(store, Source(pupil_school(surname="Quorrowbie")))
    sync(store, Source(pupil_school()))
    answer = store.person("s1", "students", "S1")
    keys = {("students", "S1"), ("contact-links", "S1:C1")}
    assert {(r["entity"], r["id"]) for r in answer["records"]} == keys
    assert answer["member_of"] == [
        {"entity": "classes", "id": "MA7"},
        {"entity": "classes", "id": "REG7"},
        {"entity": "groups", "id": "G1"},
    ]
    # every event about them, and every stored record whose data names them, is in it
    e, r = t.events.c, t.records.c
    with store.engine.connect() as conn:
        events = conn.execute(select(e.entity, e.id, e.op)).all()
        naming = conn.execute(select(r.entity, r.id).where(r.data.contains('"S1"'))).all()
    assert [(x["entity"], x["id"], x["op"]) for x in answer["events"]] == [
        tuple(x) for x in events if (x.entity, x.id) in keys
    ]
    listed = keys | {(m["entity"], m["id"]) for m in answer["member_of"]}
    assert {tuple(x) for x in naming} <= listed
    text = json.dumps(answer)
    assert all(v in text for v in [*PUPIL.values(), "Quorrowbie", RELATIONSHIP])


def test_the_export_of_someone_never_stored_is_an_error(store):
    sync(store, Source())
    with pytest.raises(ConfigError, match="nothing is stored about contacts 'C9'"):
        store.person("s1", "contacts", "C9")


def test_a_left_pupil_is_still_exported_until_purged(store):
    sync(store, Source())
    sync(store, Source(s3_leaves))
    [record] = store.person("s1", "students", "S3")["records"]
    assert record["deleted"] is True and record["data"]["surname"] == "SS3"
    store.purge("s1", 400, now=later(401))
    ops = [(x["op"], x["changes"]) for x in store.person("s1", "students", "S3")["events"]]
    assert (
        ops[1] == ("delete", {"reason": ERASED})
        and store.person("s1", "students", "S3")["records"] == []
    )
