"""Change tracking and safeguards of sync-rules.md, through the real pipeline and store,
on SQLite and PostgreSQL."""

from __future__ import annotations

import weakref

import pytest
from msgspec.structs import replace
from sqlalchemy import event, func, select

import mis_sync.core.store.writes as store_module
from mis_sync.core import pipeline, plugins
from mis_sync.core.config import Config, bind_school
from mis_sync.core.errors import SafeguardStop, SchoolBusy
from mis_sync.core.hookspecs import hookimpl
from mis_sync.core.schema import Dataset, Group
from mis_sync.core.store import tables as t

from .builders import contact, klass, school, student, teacher


class Source:
    """A connector whose MIS is a Dataset the test edits between runs."""

    def __init__(self, dataset_factory=school) -> None:
        self.make = dataset_factory

    @hookimpl
    def mis_sync_fetch(self):
        return self.make()

    @hookimpl
    def mis_sync_map(self, raw):
        return raw


def sync(store, source, *, key="s1", **kwargs):
    config = Config(schools={key: {"connector": "static", **kwargs.pop("options", {})}})
    pm = plugins.manager(source)
    return pipeline.run_school(store, bind_school(config, key, []), pm, **kwargs)


def count(store, table):
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


def test_first_run_inserts_everything_and_records_insert_events(store):
    result = sync(store, Source())
    assert result["status"] == "ok"
    assert (
        result["inserted"] == 3 + 2 + 2 + 2 + 2 + 1
    )  # students, teachers, classes, contacts, links, group
    ops = {(c["entity"], c["id"]): c for c in store.changes("s1")}
    assert ops[("students", "S1")]["op"] == "insert"
    assert ops[("students", "S1")]["changes"]["surname"] == [None, "SS1"]


def test_unchanged_rerun_writes_no_record_and_records_no_event(store):
    sync(store, Source())
    before = {tbl.name: count(store, tbl) for tbl in (t.records, t.events, t.left_out)}
    statements = []
    listener = lambda conn, cursor, stmt, *a: statements.append(stmt)  # noqa: E731
    event.listen(store.engine, "before_cursor_execute", listener)
    result = sync(store, Source())
    event.remove(store.engine, "before_cursor_execute", listener)
    assert (result["inserted"], result["updated"], result["deleted"]) == (0, 0, 0)
    assert {tbl.name: count(store, tbl) for tbl in (t.records, t.events, t.left_out)} == before
    writes = [
        s for s in statements if s.lstrip().split()[0].upper() in ("INSERT", "UPDATE", "DELETE")
    ]
    assert all(" runs" in s.split("(")[0] or "UPDATE runs" in s for s in writes), writes
    assert store.changes("s1") == []


def test_unchanged_rerun_skips_the_reads_it_does_not_need(store, monkeypatch):
    """No insert: no soft-deleted keys to look up. No map taking source_state: none read."""
    sync(store, Source())
    read = []
    for name in ("_soft_deleted", "source_state"):
        real = getattr(store, name)
        monkeypatch.setattr(store, name, lambda *a, n=name, real=real: read.append(n) or real(*a))
    assert sync(store, Source())["inserted"] == 0
    assert read == []

    def one_more():
        ds = school()
        ds.records["students"]["S9"] = student("S9")
        reg = ds.records["classes"]["REG7"]
        ds.records["classes"]["REG7"] = replace(reg, student_ids=[*reg.student_ids, "S9"])
        return ds

    sync(store, Source(one_more))
    assert read == ["_soft_deleted"]


def test_a_map_taking_source_state_with_a_default_still_gets_it(store):
    """pluggy passes a defaulted argument too: `source_state=None` must not read as unasked."""

    class Delta(Source):
        seen: list = []

        @hookimpl
        def mis_sync_map(self, raw, source_state=None):
            self.seen.append(source_state)
            raw.source_state = b"picture %d" % len(self.seen)
            return raw

    sync(store, Delta())
    sync(store, Delta())
    assert Delta.seen == [None, b"picture 1"]


def test_the_wire_records_are_freed_before_the_rules_run(store):
    """What the connector fetched is not held through merge, filter and diff."""

    class Fetched:  # a plain object, so that it can be watched with a weak reference
        def __init__(self, dataset):
            self.dataset = dataset

    refs, alive_at_merge = [], []

    class Watched(Source):
        @hookimpl
        def mis_sync_fetch(self):
            fetched = Fetched(school())
            refs.append(weakref.ref(fetched))
            return fetched

        @hookimpl
        def mis_sync_map(self, raw):
            return raw.dataset

        @hookimpl
        def mis_sync_merge(self):
            alive_at_merge.append(refs[0]() is not None)

    sync(store, Watched())
    assert alive_at_merge == [False]


def test_update_records_each_changed_field_old_and_new(store):
    sync(store, Source())

    def renamed():
        ds = school()
        ds.records["students"]["S2"] = replace(
            ds.records["students"]["S2"], surname="Smyth", year_group="Year 8"
        )
        return ds

    result = sync(store, Source(renamed))
    assert result["updated"] == 1
    [change] = store.changes("s1")
    assert change == {
        "run": result["run"],
        "entity": "students",
        "id": "S2",
        "op": "update",
        "changes": {"surname": ["SS2", "Smyth"], "year_group": ["Year 7", "Year 8"]},
    }


def test_records_are_matched_by_id_not_by_name(store):
    sync(store, Source())

    def swapped_names():
        ds = school()
        s1, s2 = ds.records["students"]["S1"], ds.records["students"]["S2"]
        ds.records["students"]["S1"] = replace(s1, surname=s2.surname)
        ds.records["students"]["S2"] = replace(s2, surname=s1.surname)
        return ds

    sync(store, Source(swapped_names))
    assert {(c["id"], c["op"]) for c in store.changes("s1")} == {("S1", "update"), ("S2", "update")}
    assert [s["surname"] for s in store.export("s1", "students", {})] == ["SS2", "SS1", "SS3"]


def test_delete_records_the_reason_and_restore_keeps_the_id(store):
    sync(store, Source())

    def s3_leaves():
        ds = school()
        ds.records["classes"]["REG7"] = klass(
            "REG7", ["S1", "S2"], ["T1", "T2"], kind="registration"
        )
        return ds

    sync(store, Source(s3_leaves))
    deleted = {c["id"]: c for c in store.changes("s1") if c["op"] == "delete"}
    assert deleted["S3"]["changes"] == {"reason": "in no class"}
    assert store.explain("s1", "students", "S3") == {
        "entity": "students",
        "id": "S3",
        "kept": False,
        "reasons": ["in no class"],
    }
    result = sync(store, Source())
    restored = {c["id"]: c for c in store.changes("s1", result["run"]) if c["op"] == "restore"}
    assert "S3" in restored
    assert store.explain("s1", "students", "S3")["kept"] is True
    with store.engine.connect() as conn:
        rows = conn.execute(select(t.records.c.id).where(t.records.c.id == "S3")).all()
    assert len(rows) == 1


def test_record_no_longer_sent_is_deleted_with_that_reason(store):
    sync(store, Source())

    def without_group():
        ds = school()
        ds.records["groups"].clear()
        return ds

    sync(store, Source(without_group))
    [change] = store.changes("s1")
    assert change["op"] == "delete" and change["changes"] == {
        "reason": "no longer sent by the source"
    }


def test_a_runs_events_list_its_changes_then_its_deletes_in_key_order(store):
    """`mis-sync changes` reads the same on SQLite and PostgreSQL, run after run."""

    def apply(dataset):
        run = store.start_run("s1", "static")
        store.apply(run, "s1", dataset, local={}, threshold=1.0)
        return run

    apply(
        Dataset.of(
            students=[student("S2"), student("S1")],
            groups=[Group(id="G1")],
            teachers=[teacher("T1")],
        )
    )
    run = apply(
        Dataset.of(
            students=[student("S1")],
            teachers=[teacher("T1"), teacher("T2")],
            contacts=[contact("C1")],
        )
    )
    assert [(c["entity"], c["id"], c["op"]) for c in store.changes("s1", run)] == [
        ("contacts", "C1", "insert"),
        ("teachers", "T2", "insert"),
        ("groups", "G1", "delete"),
        ("students", "S2", "delete"),
    ]


def test_a_failing_write_leaves_the_previous_state_exactly(store, monkeypatch):
    sync(store, Source())
    before = store.export("s1", "students", {})

    def changed():
        ds = school()
        ds.records["students"]["S1"] = replace(ds.records["students"]["S1"], surname="Changed")
        ds.add("students", [student("S4")])
        ds.records["classes"]["MA7"] = klass("MA7", ["S1", "S4"], ["T2"])
        return ds

    insert_many = store_module._insert_many

    def boom(conn, table, *args):  # after the records' rows (COPY on PostgreSQL)
        if table.name == "events":
            raise RuntimeError("disk full")
        return insert_many(conn, table, *args)

    with monkeypatch.context() as patched:
        patched.setattr(store_module, "_insert_many", boom)
        with pytest.raises(RuntimeError):
            sync(store, Source(changed))
    assert store.export("s1", "students", {}) == before
    assert store.runs("s1")[0]["status"] == "failed"
    assert "disk full" in store.runs("s1")[0]["message"]
    assert sync(store, Source(changed))["inserted"] == 1


def test_mass_delete_stops_before_writing_unless_allowed(store):
    many = lambda: _school_of(30)  # noqa: E731
    sync(store, Source(many))
    few = lambda: _school_of(20)  # noqa: E731
    with pytest.raises(SafeguardStop) as stop:
        sync(store, Source(few))
    assert "10 of 33 students" in str(stop.value)
    assert len(store.export("s1", "students", {})) == 33
    assert store.runs("s1")[0]["status"] == "stopped"
    result = sync(store, Source(few), allow_mass_delete=True)
    assert result["deleted"] == 10
    assert "mass delete allowed: 10 of 33 students" in result["message"]


def test_mass_delete_threshold_is_a_school_option_and_needs_ten_records(store):
    sync(store, Source(lambda: _school_of(30)))
    # 9 of 33 is below the ten-record floor whatever the share
    assert sync(store, Source(lambda: _school_of(21)))["deleted"] == 9
    with pytest.raises(SafeguardStop):
        sync(store, Source(lambda: _school_of(0)), options={"mass_delete_threshold": 0.5})


def test_invalid_record_keeps_its_stored_copy(store):
    sync(store, Source())

    def s2_bad():
        ds = school()
        ds.records["students"]["S1"] = replace(ds.records["students"]["S1"], surname="New")
        ds.reject(
            "students",
            "S2",
            "students record S2: field DateOfBirth: 'soon' is not a YYYY-MM-DD date",
        )
        return ds

    result = sync(store, Source(s2_bad))
    assert {c["id"] for c in store.changes("s1")} == {"S1"}
    assert [s["id"] for s in store.export("s1", "students", {})] == ["S1", "S2", "S3"]
    assert result["left_out_by_reason"] == {"students: failed validation": 1}
    assert store.explain("s1", "students", "S2") == {
        "entity": "students",
        "id": "S2",
        "kept": True,
        "reasons": [
            "kept unchanged: the MIS now sends an invalid record",
            "students record S2: field DateOfBirth: 'soon' is not a YYYY-MM-DD date",
        ],
    }


def test_local_field_survives_update_delete_and_restore(store):
    sync(store, Source())
    store.set_local("s1", "teachers", "T1", "room", "B12")
    local = {"teachers": {"room"}}

    def t1_renamed():
        ds = school()
        ds.records["teachers"]["T1"] = replace(
            ds.records["teachers"]["T1"], surname="Renamed", room="ignored"
        )
        return ds

    sync(store, Source(t1_renamed))
    [t1] = [x for x in store.export("s1", "teachers", local) if x["id"] == "T1"]
    assert (t1["surname"], t1["room"]) == ("Renamed", "B12")

    def t1_gone():
        ds = school()
        ds.records["teachers"].pop("T1")
        return ds

    sync(store, Source(t1_gone))
    assert "T1" not in [x["id"] for x in store.export("s1", "teachers", local)]
    sync(store, Source())
    [t1] = [x for x in store.export("s1", "teachers", local) if x["id"] == "T1"]
    assert t1["room"] == "B12"


def test_a_second_run_for_the_same_school_is_refused(store):
    with store.lock("s1"):
        store.start_run("s1", "static")
        with pytest.raises(SchoolBusy) as busy:
            sync(store, Source())
    assert "school 's1'" in str(busy.value) and "started" in str(busy.value)
    assert sync(store, Source(), key="s2")["status"] == "ok"


def test_dry_run_writes_nothing(store):
    result = sync(store, Source(), dry_run=True)
    assert result["inserted"] > 0 and result["status"] == "dry-run"
    assert count(store, t.records) == 0 and count(store, t.runs) == 0


def _school_of(n: int):
    ds = school()
    extra = [student(f"X{i:02}") for i in range(n)]
    ds.add("students", extra)
    ds.records["classes"]["MA7"] = klass("MA7", ["S1", "S2", *[s.id for s in extra]], ["T2"])
    return ds
