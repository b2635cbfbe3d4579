"""Shared fixtures: every persistence test runs on SQLite and on the real PostgreSQL server.

PostgreSQL is not optional: when it cannot be reached the PostgreSQL variants fail (they do
not skip), so CI cannot go green without having tested it. Point MIS_SYNC_TEST_PG at another
server if yours is elsewhere.
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, text

from mis_sync.core.schema import Dataset
from mis_sync.core.store import Store
from mis_sync.core.store.tables import metadata

PG_URL = os.environ.get("MIS_SYNC_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _reset_postgres() -> None:
    engine = create_engine(PG_URL)
    try:
        with engine.begin() as conn:
            conn.execute(text("SELECT 1"))
            metadata.drop_all(conn)
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    except Exception as exc:  # noqa: BLE001 - any failure to reach it is the same failure
        pytest.fail(f"PostgreSQL at {PG_URL} is not reachable: {exc}", pytrace=False)
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'mis-sync.db'}"
    _reset_postgres()
    return PG_URL


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
