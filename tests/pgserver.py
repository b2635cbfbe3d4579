"""A PostgreSQL database of this test session's own, on the server MIS_SYNC_TEST_PG names.

MIS_SYNC_TEST_PG names a server (its database part, if any, is only where we connect to
create ours). Each session creates `mis_sync_test_<random>` and drops it at the end, so two
suites on one server (a developer's and CI's) never drop each other's tables. Used by
tests/conftest.py and the benchmarks (workers.py, fleet.py).
"""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager

from sqlalchemy import create_engine, make_url, text

SERVER = os.environ.get("MIS_SYNC_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _admin_url():
    url = make_url(SERVER)
    return url.set(database=url.database or "postgres")


@contextmanager
def scratch_database(prefix: str = "mis_sync_test"):
    """Yield the URL of a new, empty database; drop it (and its connections) afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield _admin_url().set(database=name).render_as_string(hide_password=False)
    finally:
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        finally:
            admin.dispose()


def drop_schema(url: str) -> None:
    """Drop mis-sync's views, tables and Alembic's version table in the database at `url`
    (only ever a scratch database of this module's making)."""
    from mis_sync.core.store import views
    from mis_sync.core.store.tables import metadata

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            views.drop(conn)  # they depend on the tables
            metadata.drop_all(conn)
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    finally:
        engine.dispose()
