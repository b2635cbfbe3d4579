"""One run per school at a time, across processes and machines.

PostgreSQL: a session advisory lock on a connection of its own, which the server drops when
the holder's connection dies. SQLite: flock on a file beside the database, which the kernel
drops when the holder's process dies. Neither can outlive a killed run.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text

from ..errors import SchoolBusy

POLL_SECONDS = 0.2


@contextmanager
def school_lock(
    engine: Engine, school: str, *, wait: bool, busy: Callable[[], str]
) -> Iterator[None]:
    """Hold the school's lock for the block; raise SchoolBusy(busy()) if taken and not wait."""
    if engine.dialect.name == "postgresql":
        with _advisory(engine, school, wait, busy):
            yield
    elif engine.url.database and engine.url.database != ":memory:":
        with _flock(Path(engine.url.database), school, wait, busy):
            yield
    else:  # an in-memory database lives and dies with one process: nothing to share
        yield


@contextmanager
def _advisory(engine: Engine, school: str, wait: bool, busy) -> Iterator[None]:
    key = int.from_bytes(
        hashlib.blake2b(school.encode(), digest_size=8).digest(), "big", signed=True
    )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if wait:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
        elif not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
            raise SchoolBusy(busy())
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})


@contextmanager
def _flock(database: Path, school: str, wait: bool, busy) -> Iterator[None]:
    folder = database.with_name(database.name + ".locks")
    folder.mkdir(exist_ok=True)
    path = folder / (re.sub(r"[^A-Za-z0-9_.-]", "_", school) + ".lock")
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
        yield
    finally:
        os.close(fd)  # closing drops the lock
