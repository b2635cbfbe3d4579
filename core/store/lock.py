"""One run per school at a time, across processes and machines, held until the commit.

PostgreSQL: a session advisory lock on a connection of its own, which the server drops when
the holder's connection dies. SQLite: flock on a file beside the database, which the kernel
drops when the holder's process dies. Neither can outlive a killed run.

Holding the lock and writing are one thing: the run's write transaction proves, just before
it commits, that the lock is still held (`Held.check`). A PostgreSQL session lock dies with
its connection (`pg_terminate_backend`, `idle_session_timeout`, a failover) while the run
carries on; without the check that run would commit beside the run that took the lock next.
The write transaction also takes a transaction lock of the school's own (`Held.enter`), so a
run that took over a lost lock writes only after the old holder's commit or rollback, and
diffs against what that left.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, text

from ..errors import LockLost, SchoolBusy

POLL_SECONDS = 0.2
log = logging.getLogger("mis_sync.lock")


def lock_key(school: str) -> int:
    """The school's advisory lock key: a hash of the exact key, as a signed 64-bit int."""
    return int.from_bytes(
        hashlib.blake2b(school.encode(), digest_size=8).digest(), "big", signed=True
    )


def lock_file_name(school: str) -> str:
    """Readable where it can be, unique always: `oak wood`, `oak_wood`, `oak/wood` differ."""
    readable = re.sub(r"[^A-Za-z0-9_.-]", "_", school)[:40]
    return f"{readable}-{hashlib.blake2b(school.encode(), digest_size=8).hexdigest()}.lock"


def lock_folder(database: str) -> Path:
    """`<database>.locks` beside the database file's real path, so that two paths to one
    file (a symlink, `./` and an absolute path) share one lock folder."""
    real = Path(database).resolve()
    return real.with_name(real.name + ".locks")


class Held:
    """A held school lock, as the write transaction sees it."""

    def __init__(self, school: str) -> None:
        self.school = school

    def enter(self, conn: Connection) -> None:
        """At the start of the write transaction: wait for any other writer of the school."""

    def check(self, conn: Connection) -> None:
        """Just before the commit: raise LockLost unless the lock is still held."""

    def lost(self, why: str) -> LockLost:
        return LockLost(
            f"school {self.school!r}: the run lost the school's lock before it could commit"
            f" ({why}); nothing was stored; run it again"
        )


class _Advisory(Held):
    def __init__(self, school: str, pid: int, started: datetime) -> None:
        super().__init__(school)
        self.key = lock_key(school)
        # the backend that holds the session lock: its pid, and when it started, since an
        # operating system may give a dead backend's pid to a new one
        self.pid, self.started = pid, started

    def enter(self, conn: Connection) -> None:
        # the two-int form is a key space of its own: it never meets the session lock
        unsigned = self.key & 0xFFFF_FFFF_FFFF_FFFF
        hi, lo = (_signed32(unsigned >> 32), _signed32(unsigned & 0xFFFF_FFFF))
        conn.execute(text("SELECT pg_advisory_xact_lock(:hi, :lo)"), {"hi": hi, "lo": lo})

    def check(self, conn: Connection) -> None:
        unsigned = self.key & 0xFFFF_FFFF_FFFF_FFFF
        held = conn.execute(
            text(
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                " WHERE l.locktype = 'advisory' AND l.granted AND l.pid = :pid"
                " AND a.backend_start = :started"
                " AND l.classid = :hi AND l.objid = :lo AND l.objsubid = 1"
                " AND l.database = (SELECT oid FROM pg_database"
                " WHERE datname = current_database())"
            ),
            {
                "pid": self.pid,
                "started": self.started,
                "hi": unsigned >> 32,
                "lo": unsigned & 0xFFFF_FFFF,
            },
        ).scalar()
        if not held:
            raise self.lost("the database connection that held it was closed")


class _Flock(Held):
    def __init__(self, school: str, fd: int, path: Path) -> None:
        super().__init__(school)
        self.fd, self.path = fd, path

    def check(self, conn: Connection) -> None:
        """flock cannot be taken from a live process, but its file can be deleted, and then
        the next run locks a new file: the lock is ours only while our file is the one."""
        try:
            same = os.stat(self.path).st_ino == os.fstat(self.fd).st_ino
        except OSError:
            same = False
        if not same:
            raise self.lost(f"its lock file {self.path} was removed")


@contextmanager
def school_lock(
    engine: Engine, school: str, *, wait: bool, busy: Callable[[], str]
) -> Iterator[Held]:
    """Hold the school's lock for the block; raise SchoolBusy(busy()) if taken and not wait."""
    if engine.dialect.name == "postgresql":
        with _advisory(engine, school, wait, busy) as held:
            yield held
    elif engine.url.database and engine.url.database != ":memory:":
        with _flock(engine.url.database, school, wait, busy) as held:
            yield held
    else:  # an in-memory database lives and dies with one process: nothing to share
        yield Held(school)


@contextmanager
def _advisory(engine: Engine, school: str, wait: bool, busy) -> Iterator[Held]:
    key = lock_key(school)
    conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        if wait:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
        elif not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
            raise SchoolBusy(busy())
        me = conn.execute(
            text("SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()")
        ).one()
        held = _Advisory(school, me.pid, me.backend_start)
    except BaseException:
        conn.close()
        raise
    try:
        yield held
    finally:
        _release(conn, key)


def _release(conn: Connection, key: int) -> None:
    """Unlock, or drop the connection: either frees the lock. What the run stored stands, so
    a failure here (the connection died during the run) is logged, never raised."""
    try:
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        conn.close()
    except Exception as exc:  # noqa: BLE001 - a dead connection holds no lock
        log.info("school lock: unlock failed (%s); dropping its connection", type(exc).__name__)
        try:
            conn.invalidate()
            conn.close()
        except Exception:  # noqa: BLE001, S110 - already gone
            pass


@contextmanager
def _flock(database: str, school: str, wait: bool, busy) -> Iterator[Held]:
    folder = lock_folder(database)
    folder.mkdir(exist_ok=True)
    path = folder / lock_file_name(school)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not wait:
                    raise SchoolBusy(busy()) from None
                time.sleep(POLL_SECONDS)
        yield _Flock(school, fd, path)
    finally:
        os.close(fd)  # closing drops the lock


def _signed32(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value
