"""Shared fixtures: every persistence test runs on SQLite and on the real PostgreSQL server.

PostgreSQL is not optional: when it cannot be reached the PostgreSQL variants fail (they do
not skip), so CI cannot go green without having tested it. Point MIS_SYNC_TEST_PG at another
server if yours is elsewhere. The suite works in a database of its own, created for the
session and dropped at its end (tests/pgserver.py): tables are only ever dropped there.
"""

from __future__ import annotations

import gc

import pytest

from mis_sync.core.schema import Dataset
from mis_sync.core.store import Store

from .pgserver import SERVER, drop_schema, scratch_database

FREEZE_EVERY = 20  # tests


def pytest_runtest_setup(item) -> None:
    """Every FREEZE_EVERY tests, collect and freeze what the process holds (gc.freeze).

    A test process piles up hundreds of thousands of long-lived objects (imported modules,
    FastAPI apps, SQLAlchemy metadata), and each full pass of the cyclic collector walks
    them all: a two-school run that takes 0.1 s in a fresh process took 0.6 s late in the
    suite, nearly all of it in collector passes. Frozen objects are never walked again;
    collecting first means no garbage is frozen. The product is not affected: a run pauses
    the collector itself (core/collector.py) and the CLI freezes its imports.
    """
    counter = item.session.stash.setdefault(_TESTS_SEEN, [0])
    counter[0] += 1
    if counter[0] % FREEZE_EVERY == 1:
        gc.collect()
        gc.freeze()


_TESTS_SEEN = pytest.StashKey[list]()


@pytest.fixture(scope="session")
def pg_url() -> str:
    """This session's own PostgreSQL database (created here, dropped at the end)."""
    try:
        with scratch_database() as url:
            yield url
    except Exception as exc:  # noqa: BLE001 - any failure to reach it is the same failure
        pytest.fail(f"PostgreSQL at {SERVER} is not usable: {exc}", pytrace=False)


def reset_postgres(url: str) -> None:
    """Empty this session's database: only ever the suite's own (see pg_url)."""
    assert "mis_sync_test_" in url, url
    try:
        drop_schema(url)
    except Exception as exc:  # noqa: BLE001 - any failure to reach it is the same failure
        pytest.fail(f"PostgreSQL at {url} is not reachable: {exc}", pytrace=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'mis-sync.db'}"
    url = request.getfixturevalue("pg_url")
    reset_postgres(url)
    return url


@pytest.fixture
def store(db_url):
    s = Store(db_url)
    yield s
    s.close()


class StaticConnector:
    """A connector whose source is a Dataset held in memory: core tests need no MIS."""

    def __init__(self, dataset_factory) -> None:
        self.dataset_factory = dataset_factory

    from mis_sync.core.hookspecs import hookimpl

    @hookimpl
    def mis_sync_fetch(self, school):
        return self.dataset_factory()

    @hookimpl
    def mis_sync_map(self, raw):
        return raw


@pytest.fixture
def empty_dataset() -> Dataset:
    return Dataset()
