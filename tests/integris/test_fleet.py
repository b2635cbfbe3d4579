"""Many schools in one process: every school that can be synced is stored exactly once,
whatever the others do, and the store's connections stay within the pool sized from --jobs.
"""

from __future__ import annotations

from contextlib import ExitStack

import pytest
from sqlalchemy import func, select

import mis_sync.core.store as store_module
from mis_sync.connectors.integris.fake import Fault, Network, serve
from mis_sync.core import pipeline
from mis_sync.core.config import Config
from mis_sync.core.store import Store
from mis_sync.core.store import tables as t

from ..conftest import reset_postgres
from .support import fake, options

pytestmark = pytest.mark.timeout(60)

FAILING = {
    "elm": [Fault(kind="status", status=403, resource="contacts", page=2)],
    "fir": [Fault(kind="not_json", resource="groups")],
    "yew": [Fault(kind="status", status=500, resource="staff", times=99)],
}
PASSING_AFTER_A_WAIT = {
    "oak": [Fault(kind="status", status=429, retry_after=0, resource="classes")]
}


def config_for(servers: dict, stack: ExitStack, **extra) -> Config:
    schools = {}
    for key, server in servers.items():
        schools[key] = options(base_url=stack.enter_context(serve(server)), page_limit=1, **extra)
    return Config(schools=schools)


def per_school(store: Store, table) -> dict[str, int]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(table.c.school, func.count()).group_by(table.c.school))
        return dict(rows.all())


def test_failing_schools_leave_every_other_school_stored_exactly_once(store, monkeypatch):
    monkeypatch.setattr("mis_sync.core.http.time.sleep", lambda seconds: None)
    keys = ["ash", "elm", "fir", "hazel", "oak", "rowan", "yew", "willow"]
    faults = {**FAILING, **PASSING_AFTER_A_WAIT}
    servers = {key: fake(faults=faults.get(key, ()), network=Network(latency=0.01)) for key in keys}
    with ExitStack() as stack:
        config = config_for(servers, stack)
        results = pipeline.run_schools(store, config, keys, connector="integris", jobs=4)
    status = {r["school"]: r["status"] for r in results}
    assert status == {k: "failed" if k in FAILING else "ok" for k in keys}
    stored, events = per_school(store, t.records), per_school(store, t.events)
    alone = {r["school"]: r["inserted"] for r in results if r["status"] == "ok"}
    assert set(stored) == set(alone)  # a failed school stores nothing
    for key, inserted in alone.items():
        assert inserted > 0
        assert stored[key] == events[key] == inserted  # one row and one insert event each
    assert sorted(r["school"] for r in store.runs()) == sorted(keys)  # one run row each


def test_schools_that_find_no_connection_get_a_run_row_saying_so(pg_url, monkeypatch):
    """A pool far too small for the schools at once (the old pool at --jobs 16 was so)."""
    reset_postgres(pg_url)
    monkeypatch.setattr(store_module, "POOL_WAIT", 0.5)
    store = Store(pg_url, jobs=1)  # 5 connections; 8 schools each hold one for a second
    keys = [f"school{n}" for n in range(8)]
    servers = {key: fake(network=Network(latency=0.25)) for key in keys}
    try:
        with ExitStack() as stack:
            config = config_for(servers, stack)
            results = pipeline.run_schools(store, config, keys, connector="integris", jobs=8)
        short = [r for r in results if r["exit_code"] == 2]
        assert short  # the shortage happened
        assert {r["status"] for r in results} <= {"ok", "failed"}
        rows = {r["school"]: r for r in store.runs()}
        assert set(rows) == set(keys)  # a run row each, connection or not
        for r in short:
            assert rows[r["school"]]["status"] == "failed"
            assert "no database connection for the run" in rows[r["school"]]["message"]
    finally:
        store.close()


def test_a_pool_sized_from_jobs_runs_every_school(pg_url, monkeypatch):
    reset_postgres(pg_url)
    monkeypatch.setattr(store_module, "POOL_WAIT", 0.5)  # a shortage would fail, not wait
    store = Store(pg_url, jobs=8)
    keys = [f"school{n}" for n in range(8)]
    servers = {key: fake(network=Network(latency=0.25)) for key in keys}
    try:
        assert store.engine.pool.size() == Store.pool_size(8) == 12
        with ExitStack() as stack:
            config = config_for(servers, stack)
            results = pipeline.run_schools(store, config, keys, connector="integris", jobs=8)
        assert [r["status"] for r in results] == ["ok"] * 8
        assert store.engine.pool.checkedout() == 0
    finally:
        store.close()
