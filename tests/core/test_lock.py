"""The lock cannot be lost: a run commits only while it holds its school's lock, and nothing
after the commit turns a stored run into a failed one. On SQLite and PostgreSQL."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, event, text

from mis_sync.core.errors import LockLost, SchoolBusy
from mis_sync.core.store import Store
from mis_sync.core.store.lock import lock_key

from .builders import school
from .test_tracking import Source, sync


def kill_lock_backend(url: str, key: str) -> int:
    """pg_terminate_backend on the connection holding `key`'s session lock, from outside."""
    unsigned = lock_key(key) & 0xFFFF_FFFF_FFFF_FFFF
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            pids = conn.execute(
                text(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1"
                    " AND classid = :hi AND objid = :lo"
                    # this suite's database only: another suite on the server may hold a
                    # lock of the same school key in its own
                    " AND database = (SELECT oid FROM pg_database"
                    " WHERE datname = current_database())"
                ),
                {"hi": unsigned >> 32, "lo": unsigned & 0xFFFF_FFFF},
            ).scalars()
            # with a timeout, pg_terminate_backend waits until the backend is gone (and its
            # lock with it): a test must not race a backend that is still exiting
            killed = [
                conn.execute(text("SELECT pg_terminate_backend(:p, 10000)"), {"p": p}).scalar()
                for p in pids
            ]
        return sum(killed)
    finally:
        engine.dispose()


def stored(store, key="s1") -> dict:
    return {e: store.export(key, e, {}) for e in ("students", "classes", "teachers")}


@pytest.fixture
def pg_store(pg_url):
    from ..conftest import reset_postgres

    reset_postgres(pg_url)
    s = Store(pg_url)
    yield s
    s.close()


def test_a_run_whose_lock_backend_is_killed_mid_fetch_cannot_commit(pg_store, pg_url):
    """Run A loses its lock mid-fetch; run B takes the lock and commits; A must not."""
    store = pg_store
    sync(store, Source())
    before = stored(store)
    others = {}

    def fetch_then_lose_the_lock():
        assert kill_lock_backend(pg_url, "s1") == 1
        # the lock is free now: a second run takes it and commits while A is mid-run
        others.update(sync(store, Source(lambda: _renamed("B"))))
        return _renamed("A")

    with pytest.raises(LockLost) as lost:
        sync(store, Source(fetch_then_lose_the_lock))
    assert "school 's1': the run lost the school's lock before it could commit" in str(lost.value)
    assert lost.value.exit_code == 2
    assert others["status"] == "ok" and others["updated"] == 1
    # B's picture, not A's, and no run wrote the same change twice
    [s1] = [s for s in store.export("s1", "students", {}) if s["id"] == "S1"]
    assert s1["surname"] == "B"
    assert stored(store)["classes"] == before["classes"]
    a, b = store.runs("s1")[1], store.runs("s1")[0]
    assert (a["status"], b["status"]) == ("failed", "ok")
    assert "lost the school's lock" in a["message"]
    assert [c["op"] for c in store.changes("s1", run=a["run"])] == []


def test_a_lost_lock_without_a_rival_still_cannot_commit(pg_store, pg_url):
    store = pg_store
    sync(store, Source())
    before = stored(store)

    def fetch():
        kill_lock_backend(pg_url, "s1")
        return _renamed("A")

    with pytest.raises(LockLost):
        sync(store, Source(fetch))
    assert stored(store) == before
    assert store.runs("s1")[0]["status"] == "failed"
    # the lock is free again: the next run goes through
    assert sync(store, Source(lambda: _renamed("A")))["updated"] == 1


def test_an_unlock_that_fails_after_the_commit_leaves_the_run_ok(pg_store, pg_url):
    """The lock's connection dies as the write commits: what was stored stands, exit 0."""
    store = pg_store
    sync(store, Source())

    checked = []

    def on_statement(conn, cursor, statement, *args):
        checked.append("pg_locks" in statement)  # the lock check: the write is about to commit

    def on_commit(conn):
        if checked and checked[-1]:
            kill_lock_backend(pg_url, "s1")

    event.listen(store.engine, "before_cursor_execute", on_statement)
    event.listen(store.engine, "commit", on_commit)
    try:
        result = sync(store, Source(lambda: _renamed("A")))
    finally:
        event.remove(store.engine, "commit", on_commit)
        event.remove(store.engine, "before_cursor_execute", on_statement)
    assert result["status"] == "ok" and result["updated"] == 1
    assert store.runs("s1")[0]["status"] == "ok"
    assert [c["op"] for c in store.changes("s1")] == ["update"]
    assert sync(store, Source(lambda: _renamed("A")))["updated"] == 0  # and the lock is free


def test_a_stale_pooled_connection_is_replaced_not_a_failed_run(pg_store, pg_url):
    store = pg_store
    sync(store, Source())
    with store.engine.connect() as conn:
        mine = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    # the pooled connection dies while idle (a restart, idle_session_timeout)
    engine = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": mine}).scalar()
    engine.dispose()
    assert sync(store, Source(lambda: _renamed("A")))["status"] == "ok"


def test_ctrl_c_landing_after_the_commit_reports_the_run_as_stored(store, monkeypatch):
    sync(store, Source())
    real_apply = store.apply

    def apply_then_interrupt(*args, **kwargs):
        real_apply(*args, **kwargs)
        raise KeyboardInterrupt  # as if Ctrl-C came the instant the commit returned

    monkeypatch.setattr(store, "apply", apply_then_interrupt)
    result = sync(store, Source(lambda: _renamed("A")))
    assert result["status"] == "ok" and result["updated"] == 1
    assert result["left_out_by_reason"] == {}
    assert store.runs("s1")[0]["status"] == "ok"
    assert [c["op"] for c in store.changes("s1")] == ["update"]


def test_ctrl_c_before_the_commit_still_fails_the_run(store, monkeypatch):
    sync(store, Source())

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(store, "apply", interrupt)
    with pytest.raises(KeyboardInterrupt):
        sync(store, Source(lambda: _renamed("A")))
    assert store.runs("s1")[0]["status"] == "failed"
    assert store.runs("s1")[0]["message"] == "interrupted"


@pytest.mark.parametrize("other", ["oak_wood", "oak/wood", "oak wood ", "Oak wood"])
def test_schools_whose_keys_differ_never_share_a_lock(store, other):
    with store.lock("oak wood"):
        with store.lock(other):
            pass
        with pytest.raises(SchoolBusy), store.lock("oak wood"):
            pass


def test_a_symlinked_database_path_shares_the_lock(tmp_path):
    real = tmp_path / "real" / "mis-sync.db"
    real.parent.mkdir()
    first = Store(f"sqlite:///{real}")
    (tmp_path / "link.db").symlink_to(real)
    second = Store(f"sqlite:///{tmp_path / 'link.db'}")
    try:
        with first.lock("oak"), pytest.raises(SchoolBusy), second.lock("oak"):
            pass
        assert not (tmp_path / "link.db.locks").exists()
    finally:
        first.close()
        second.close()


def test_a_removed_lock_file_means_the_run_cannot_commit(tmp_path):
    db = tmp_path / "mis-sync.db"
    store = Store(f"sqlite:///{db}")
    try:
        sync(store, Source())
        before = stored(store)

        def fetch():
            for lock in (tmp_path / "mis-sync.db.locks").iterdir():
                os.unlink(lock)  # now a second run could lock a new file beside this one
            return _renamed("A")

        with pytest.raises(LockLost, match="lock file .* was removed"):
            sync(store, Source(fetch))
        assert stored(store) == before
    finally:
        store.close()


def _renamed(surname: str):
    ds = school()
    ds.records["students"]["S1"].surname = surname
    return ds


def test_the_lock_check_knows_a_new_backend_that_got_the_old_ones_pid(pg_store):
    """An operating system may reuse a dead backend's pid: its start time tells them apart."""
    from datetime import timedelta

    with pg_store.lock("s1") as held:
        with pg_store.engine.begin() as conn:
            held.check(conn)  # the holder itself passes
        held.started -= timedelta(seconds=1)  # as if the pid now belonged to another backend
        with pg_store.engine.begin() as conn, pytest.raises(LockLost):
            held.check(conn)
