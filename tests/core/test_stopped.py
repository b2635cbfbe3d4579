"""A run stopped by the mass-delete safeguard keeps the keys it would have deleted (and only
those), atomically with its `stopped` row; the retention purge and `forget` remove them."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select

from mis_sync.core.errors import SafeguardStop
from mis_sync.core.store import stopped
from mis_sync.core.store import tables as t

from .test_lifecycle import later
from .test_tracking import Source, _school_of, sync

GONE = [f"X{i:02}" for i in range(20, 30)]  # what _school_of(20) no longer sends of _school_of(30)


def stop_a_run(store, key="s1") -> int:
    sync(store, Source(lambda: _school_of(30)), key=key)
    with pytest.raises(SafeguardStop):
        sync(store, Source(lambda: _school_of(20)), key=key)
    return store.runs(key)[0]["run"]


def rows(store) -> list[tuple]:
    s = t.stopped_deletes.c
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(s.run, s.school, s.entity, s.id))]


def test_a_stopped_run_keeps_the_keys_it_would_have_deleted(store):
    run = stop_a_run(store)
    assert store.run(run)["status"] == "stopped"
    assert store.would_delete(run) == {"students": {"count": 10, "ids": GONE}}
    assert sorted(rows(store)) == [(run, "s1", "students", i) for i in GONE]
    # keys only: no column for a name or any other field of the record
    columns = {c["name"] for c in inspect(store.engine).get_columns("stopped_deletes")}
    assert columns == {"run", "school", "entity", "id"}
    # nothing else was written: the records are all still live
    assert len(store.export("s1", "students", {})) == 33


def test_the_list_can_be_capped_and_filtered_and_is_empty_for_other_runs(store):
    run = stop_a_run(store)
    assert store.would_delete(run, per_entity=3) == {"students": {"count": 10, "ids": GONE[:3]}}
    assert store.would_delete(run, rid="X25") == {"students": {"count": 1, "ids": ["X25"]}}
    assert store.would_delete(run, entity="teachers") == {}
    assert store.would_delete(run - 1) == {}  # the first, successful run
    events = stopped.as_events(run, store.would_delete(run, per_entity=2))
    assert events == [
        {"run": run, "entity": "students", "id": i, "op": "would-delete", "changes": {}}
        for i in GONE[:2]
    ]


def test_the_keys_are_written_in_the_transaction_that_marks_the_run_stopped(store, monkeypatch):
    sync(store, Source(lambda: _school_of(30)))
    run = store.start_run("s1", "static")

    def broken(conn, run, keys):
        raise RuntimeError("the disk went away")

    monkeypatch.setattr(stopped, "record", broken)
    with pytest.raises(RuntimeError):
        store.fail_run(run, "stopped", "stopped before writing", [("students", "X01")])
    assert store.run(run)["status"] == "running"  # the status went back with the keys
    monkeypatch.undo()
    assert store.fail_run(run, "stopped", "stopped", [("students", "X01")]) == "stopped"
    assert rows(store) == [(run, "s1", "students", "X01")]


def test_a_failed_or_committed_run_keeps_no_list(store):
    first = sync(store, Source(lambda: _school_of(30)))["run"]
    assert store.fail_run(first, "stopped", "late", [("students", "X01")]) == "ok"
    failed = store.start_run("s1", "static")
    store.fail_run(failed, "failed", "source failed", [("students", "X01")])
    assert rows(store) == []


def test_the_retention_purge_removes_them_with_their_run(store):
    run = stop_a_run(store)
    kept = store.purge("s1", 400, now=later(399))
    assert kept["would_delete"] == 0 and len(rows(store)) == 10
    dry = store.purge("s1", 400, now=later(401), dry_run=True)
    assert dry["would_delete"] == 10 and len(rows(store)) == 10
    done = store.purge("s1", 400, now=later(401))
    assert done["would_delete"] == 10
    assert rows(store) == [] and store.would_delete(run) == {}


def test_forget_removes_the_persons_key_and_no_other_schools(store):
    run = stop_a_run(store)
    other = stop_a_run(store, key="s2")
    done = store.forget("s1", "students", "X25")
    assert done["removed"]["would-be deletes of stopped runs"] == 1
    assert "X25" not in store.would_delete(run)["students"]["ids"]
    assert store.would_delete(run)["students"]["count"] == 9
    assert "X25" in store.would_delete(other)["students"]["ids"]


def test_the_subject_access_export_lists_the_stopped_runs_that_would_have_deleted_them(store):
    run = stop_a_run(store)
    answer = store.person("s1", "students", "X25")
    assert answer["would_delete"] == [{"run": run, "entity": "students", "id": "X25"}]
    assert store.person("s1", "students", "X05")["would_delete"] == []  # still sent
