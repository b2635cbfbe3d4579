"""Safeguards that need real processes: a run killed in its write phase, and two runs of one
school at once. On SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mis_sync.core.errors import SchoolBusy

from .test_tracking import Source, _school_of, sync

ROOT = Path(__file__).resolve().parents[2]

# A child run of school s1 over `_school_of(n)` that stops at a chosen point and waits there.
CHILD = """
import sys, time, pathlib
import mis_sync.core.store.writes as store_module
from mis_sync.core.store import Store
from tests.core.test_tracking import Source, _school_of, sync

url, n, marker, release, where = sys.argv[1:6]
store = Store(url)

def pause():
    pathlib.Path(marker).write_text("paused")
    while not pathlib.Path(release).exists():
        time.sleep(0.05)

insert_many = store_module._insert_many

def in_write(conn, table, *args):  # the events go in after the records (COPY on PostgreSQL)
    if table.name == "events":
        pause()
    return insert_many(conn, table, *args)

if where == "write":
    store_module._insert_many = in_write

def fetch():
    if where == "fetch":
        pause()
    return _school_of(int(n))

sync(store, Source(fetch))
print("child done")
"""


def start_child(db_url, tmp_path, n: int, where: str):
    marker, release = tmp_path / f"paused-{where}", tmp_path / f"release-{where}"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, db_url, str(n), str(marker), str(release), where],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not marker.exists():
        if child.poll() is not None or time.monotonic() > deadline:
            child.kill()
            pytest.fail(f"child never paused: {child.communicate()}")
        time.sleep(0.05)
    return child, release


def test_a_run_killed_in_its_write_phase_leaves_the_previous_state(store, db_url, tmp_path):
    sync(store, Source(lambda: _school_of(5)))
    before = {e: store.export("s1", e, {}) for e in ("students", "classes", "contacts")}
    before_events = len(store.changes("s1"))

    child, _ = start_child(db_url, tmp_path, 8, "write")
    assert store.runs("s1")[0]["status"] == "running"
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)

    assert {e: store.export("s1", e, {}) for e in before} == before
    assert len(store.changes("s1")) == before_events
    result = sync(store, Source(lambda: _school_of(8)))
    assert result["status"] == "ok" and result["inserted"] == 3
    statuses = [r["status"] for r in store.runs("s1")]
    assert statuses == ["ok", "failed", "ok"]
    assert store.runs("s1")[1]["message"] == "interrupted: the run died"


def test_second_run_of_a_school_is_refused_while_another_school_proceeds(store, db_url, tmp_path):
    child, release = start_child(db_url, tmp_path, 3, "fetch")
    try:
        with pytest.raises(SchoolBusy) as busy:
            sync(store, Source())
        assert "school 's1': another run holds it (run " in str(busy.value)
        assert ", started 20" in str(busy.value)
        assert sync(store, Source(), key="s2")["status"] == "ok"

        waited = {}
        waiter = threading.Thread(target=lambda: waited.update(sync(store, Source(), wait=True)))
        waiter.start()
        time.sleep(0.5)
        assert waiter.is_alive()  # queued behind the child, not interleaved
        release.write_text("go")
        waiter.join(timeout=30)
        assert waited["status"] == "ok"
    finally:
        release.write_text("go")
        out, err = child.communicate(timeout=30)
    assert "child done" in out, err
    # the refused run is listed too, as failed, naming the run that held the school
    assert [r["status"] for r in store.runs("s1")] == ["ok", "failed", "ok"]
    assert "another run holds it (run " in store.runs("s1")[1]["message"]


def test_a_killed_run_does_not_keep_the_lock(store, db_url, tmp_path):
    child, _ = start_child(db_url, tmp_path, 3, "fetch")
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    assert sync(store, Source())["status"] == "ok"
