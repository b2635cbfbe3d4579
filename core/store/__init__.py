"""Persistence: the stored records of every school, their change events, runs and local fields.

SQLAlchemy Core, not the ORM: bulk paths are executemany, and one transaction holds every
write of a run, so a failed or killed run leaves the previous state exactly as it was.
"""

from __future__ import annotations

from sqlalchemy import create_engine, event

from . import migrate
from .duplicates import Duplicates
from .edits import Edits
from .engine import check_sqlite_path, database_url, missing_driver, shown, sqlite_pragmas
from .lifecycle import Lifecycle
from .overview import Overview
from .person import People
from .queries import Queries
from .stopped import Stopped
from .writes import Writes

__all__ = ["Store", "database_url"]

WRITERS = 4  # connections beyond one per running school's lock, for reads and writes
POOL_WAIT = 300.0  # seconds a school waits for one of them: others' writes take under a second


class Store(Writes, Edits, Lifecycle, People, Queries, Duplicates, Overview, Stopped):
    """One database of every school's records. Each concern is a module of its own, joined
    here: the write path of a run in writes.py, hand edits of local fields in edits.py, what
    people look at in queries.py (the dashboard's overviews in overview.py), one person's
    keys and subject access export in person.py, the retention purge and erasure in
    lifecycle.py, the near-duplicate register in duplicates.py, what a stopped run would have
    deleted in stopped.py; opening the database (URLs,
    drivers, SQLite files) in engine.py."""

    def __init__(self, url: str, *, create: bool = True, jobs: int = 1) -> None:
        """Open the database at `url`; with `create`, make its tables if it has none.

        A command that only reads passes create=False: then a missing SQLite file or a
        database without the store's tables is an error (exit 2), and nothing is created.
        Every failure to reach it is one line with the URL's password masked.

        `jobs`: how many schools may run at once through this store (`--jobs`). Each running
        school holds one connection for its lock (PostgreSQL) and, now and then, one more for
        a read or its write. The pool holds `jobs` + WRITERS and never more (no overflow): the
        server sees a bounded number of connections whatever the schools do, and a school
        waits (up to POOL_WAIT) for one rather than failing.
        """
        # school → the run this Store last started for it: after a Ctrl-C, whichever line of
        # code it landed on, the caller can ask the runs table whether that run was stored
        self.started: dict[str, int] = {}
        parsed = database_url(url)
        self.where = shown(parsed)
        backend = parsed.get_backend_name()
        # pre-ping: a pooled connection the server closed (a restart, idle_session_timeout)
        # is replaced, not handed to a run (hidden parameters: see create_engine below)
        kwargs = {"pool_pre_ping": True}
        if backend == "postgresql" and "connect_timeout" not in parsed.query:
            # a server that never answers is a one-line error after 10 s, not a hang
            kwargs["connect_args"] = {"connect_timeout": 10}
        if backend == "sqlite":
            kwargs["connect_args"] = {"timeout": 60}
            path = parsed.database or ""
            if path and path != ":memory:" and not path.startswith("file:"):
                check_sqlite_path(self.where, path, create)
        if parsed.database not in (None, "", ":memory:"):  # in memory: one connection anyway
            kwargs |= dict(pool_size=self.pool_size(jobs), max_overflow=0, pool_timeout=POOL_WAIT)
        try:
            # errors name the statement, never its parameters: those hold pupils' data
            self.engine = create_engine(parsed, hide_parameters=True, **kwargs)
        except ModuleNotFoundError as exc:
            raise missing_driver(parsed, exc) from None
        if backend == "sqlite":
            event.listen(self.engine, "connect", sqlite_pragmas)
        try:
            migrate.ensure(self.engine, may_create=create, where=self.where)
        except Exception as exc:
            from ..errors import from_environment

            known = from_environment(exc, self.where)
            self.engine.dispose()
            if known is None:
                raise
            raise known from None

    @staticmethod
    def pool_size(jobs: int) -> int:
        return jobs + WRITERS

    def close(self) -> None:
        self.engine.dispose()
