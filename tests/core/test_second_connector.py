"""What core changed for its second MIS (OneRoster), tested in core's own terms, on SQLite and
PostgreSQL: a connector's source state kept with each run, and plain teachers beside a main
teacher."""

from __future__ import annotations

import pytest
from msgspec.structs import replace

from mis_sync.core import pipeline, plugins
from mis_sync.core.config import Config, bind_school
from mis_sync.core.errors import ConfigError, SafeguardStop
from mis_sync.core.hookspecs import hookimpl
from mis_sync.core.rules import apply_eligibility
from mis_sync.core.schema import ClassTeacher, Dataset

from .builders import klass, school, student, teacher


class DeltaSource:
    """A connector that keeps a counter as its source state and records what it was handed."""

    def __init__(self, dataset_factory=school) -> None:
        self.make = dataset_factory
        self.handed: list[bytes | None] = []
        self.next_state: bytes | None = b"state-1"

    @hookimpl
    def mis_sync_fetch(self):
        return self.make()

    @hookimpl
    def mis_sync_map(self, raw, source_state):
        self.handed.append(source_state)
        raw.source_state = self.next_state
        return raw


class PlainSource:
    """A connector that predates source state: its map takes no `source_state`."""

    @hookimpl
    def mis_sync_fetch(self):
        return school()

    @hookimpl
    def mis_sync_map(self, raw):
        return raw


def sync(store, source, *, key="s1", connector="static", **kwargs):
    config = Config(schools={key: {"connector": connector, **kwargs.pop("options", {})}})
    return pipeline.run_school(
        store, bind_school(config, key, []), plugins.manager(source), **kwargs
    )


def test_source_state_is_handed_back_on_the_next_run(store):
    source = DeltaSource()
    sync(store, source)
    source.next_state = b"state-2"
    sync(store, source)
    sync(store, source)
    assert source.handed == [None, b"state-1", b"state-2"]


def test_a_run_that_sets_no_state_keeps_the_stored_one(store):
    source = DeltaSource()
    sync(store, source)
    source.next_state = None  # "unchanged": nothing to write
    sync(store, source)
    sync(store, source)
    assert source.handed == [None, b"state-1", b"state-1"]


def test_state_is_kept_per_school_and_only_handed_to_its_own_connector(store):
    source = DeltaSource()
    sync(store, source, key="s1")
    sync(store, source, key="s2")
    assert source.handed == [None, None]
    source.next_state = b"other-1"
    # the school moved to another MIS under the same key: refused before anything is read
    # (its records would all be deleted), so the old connector's state is never handed on
    with pytest.raises(ConfigError, match="holds records stored by connector 'static'"):
        sync(store, source, key="s1", connector="other")
    assert source.handed == [None, None]
    assert store.source_state("s1", "other") is None
    assert store.source_state("s1", "static") == b"state-1"
    assert store.source_state("s2", "static") == b"state-1"


def _big() -> Dataset:
    pupils = [f"S{i}" for i in range(20)]
    return Dataset.of(
        students=[student(s) for s in pupils],
        teachers=[teacher("T1")],
        classes=[klass("C1", pupils, ["T1"])],
    )


def test_dry_runs_and_stopped_runs_store_no_state(store):
    source = DeltaSource(_big)
    sync(store, source)
    source.next_state = b"dry"
    sync(store, source, dry_run=True)
    assert store.source_state("s1", "static") == b"state-1"

    source.make, source.next_state = Dataset, b"stopped"  # sends nothing: a mass delete
    with pytest.raises(SafeguardStop):
        sync(store, source)
    assert store.source_state("s1", "static") == b"state-1"


def test_a_connector_without_the_parameter_still_runs(store):
    assert sync(store, PlainSource())["status"] == "ok"


def _teachers(kind, roles):
    return Dataset.of(
        students=[student("S1")],
        teachers=[teacher(t) for t, _ in roles],
        classes=[
            replace(
                klass("C1", ["S1"], [], kind=kind),
                teachers=[ClassTeacher(teacher_id=t, role=r) for t, r in roles],
            )
        ],
    )


def test_plain_teachers_keep_their_role_beside_a_main_teacher():
    ds = _teachers("class", [("T1", "main"), ("T2", "teacher"), ("T3", "teacher")])
    apply_eligibility(ds)
    assert ds.records["classes"]["C1"].teachers == [
        ClassTeacher(teacher_id="T1", role="main"),
        ClassTeacher(teacher_id="T2", role="teacher"),
        ClassTeacher(teacher_id="T3", role="teacher"),
    ]


def test_without_its_main_teacher_a_class_keeps_its_plain_teachers():
    ds = _teachers("class", [("T1", "main"), ("T2", "teacher")])
    ds.records["teachers"]["T1"] = replace(ds.records["teachers"]["T1"], title=" ")
    apply_eligibility(ds)
    assert ds.records["classes"]["C1"].teachers == [ClassTeacher(teacher_id="T2", role="teacher")]


def test_ranked_lists_still_make_the_first_kept_teacher_main():
    ds = _teachers("registration", [("T1", "main"), ("T2", "supervisor"), ("T3", "supervisor")])
    ds.records["teachers"]["T1"] = replace(ds.records["teachers"]["T1"], title=None)
    apply_eligibility(ds)
    assert ds.records["classes"]["C1"].teachers == [
        ClassTeacher(teacher_id="T2", role="main"),
        ClassTeacher(teacher_id="T3", role="supervisor"),
    ]
