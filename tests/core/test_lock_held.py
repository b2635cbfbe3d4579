"""The school lock held and freed (sync-rules.md: two runs for one school never write at
once), in process, on SQLite (flock) and PostgreSQL (advisory lock): each Store is its own
engine, as two processes would be, so a lock not really taken on the server fails quickly.
(test_lock.py: a lock that is lost cannot commit.)"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import event

from mis_sync.core.errors import SchoolBusy
from mis_sync.core.store import Store

from .test_tracking import Source, sync


@pytest.fixture
def other(db_url):
    """A second Store on the same database: another process's view of it."""
    s = Store(db_url)
    yield s
    s.close()


def test_a_held_lock_refuses_the_same_school_only_and_is_freed_on_exit(store, other):
    with store.lock("oak"):
        with (
            pytest.raises(SchoolBusy, match="school 'oak': another run holds it"),
            other.lock("oak"),
        ):
            pass
        with other.lock("elm"):  # another school is another lock
            pass
    with other.lock("oak"):
        pass


def test_a_lock_is_freed_when_its_block_fails(store, other):
    with pytest.raises(RuntimeError), store.lock("oak"):
        raise RuntimeError("the run failed")
    with other.lock("oak"):
        pass


def test_a_waiting_run_queues_until_the_holder_lets_go(store, other):
    got = threading.Event()

    def waiter():
        with other.lock("oak", wait=True):
            got.set()

    with store.lock("oak"):
        thread = threading.Thread(target=waiter)
        thread.start()
        assert not got.wait(0.5)  # queued behind the holder
    assert got.wait(10)
    thread.join(10)


def test_a_run_still_holds_its_lock_when_it_commits(store, other):
    """The architecture's never: no run commits without its school's lock at that moment."""
    seen = []

    def at_commit(conn):
        try:
            with other.lock("s1"):
                seen.append("free")
        except SchoolBusy:
            seen.append("held")

    event.listen(store.engine, "commit", at_commit)
    try:
        assert sync(store, Source())["status"] == "ok"
    finally:
        event.remove(store.engine, "commit", at_commit)
    assert len(seen) >= 2 and set(seen) == {"held"}, seen  # the run row, then the records
