"""The store's schema version: created or upgraded by Alembic, checked cheaply at every start.

A run only reads `alembic_version` (one query, no Alembic import); Alembic itself loads only
when a database is new or an operator runs `mis-sync db upgrade`.
"""

from __future__ import annotations

from sqlalchemy import Column, Engine, MetaData, PrimaryKeyConstraint, String, Table, inspect, text

from ..errors import ConfigError, NothingStored
from . import views
from .lock import school_lock
from .tables import metadata

_version = MetaData()
Table(  # Alembic's own bookkeeping table, as Alembic creates it
    "alembic_version",
    _version,
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)
UNVERSIONED = "unversioned"  # the store's tables without Alembic's: not made by mis-sync
SCHEMA_LOCK = "(schema)"  # a lock name no school key can take: it is not a TOML bare key
HEAD = "0007"  # the newest revision in core/migrations/versions; a test keeps them equal


def current(engine: Engine) -> str | None:
    """The database's revision; None for a database without the store's tables."""
    with engine.connect() as conn:
        try:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except Exception:  # noqa: BLE001 - no such table, in every dialect's own words
            conn.rollback()
    if inspect(engine).has_table("records"):
        return UNVERSIONED
    return None


def ensure(engine: Engine, *, may_create: bool = True, where: str = "the database") -> None:
    """Create the schema on an empty database (if `may_create`); refuse one that is
    behind (exit 2)."""
    version = current(engine)
    if version is None and not may_create:
        raise NothingStored(
            f"database {where} holds no mis-sync tables, so nothing has been synced there yet"
            " (run `mis-sync run CONNECTOR` first, or check `database`)"
        )
    if version in (None, UNVERSIONED) and may_create:
        # Workers starting together on an empty database must not create it twice, and one
        # that looked while another was creating it may have seen half: look again, locked.
        with school_lock(engine, SCHEMA_LOCK, wait=True, busy=lambda: "schema"):
            version = current(engine)
            if version is None:
                create(engine)
                version = HEAD
    if version != HEAD:
        raise ConfigError(
            f"the database schema is at revision {version}, this mis-sync needs {HEAD}:"
            " run `mis-sync db upgrade` first"
        )


def create(engine: Engine) -> None:
    """A new database gets today's tables and is stamped at HEAD, as Alembic's cookbook does
    ("building an up to date database from scratch"): the same tables as running every
    migration (a test compares them), without paying for Alembic on a first run."""
    with engine.begin() as conn:
        metadata.create_all(conn)
        views.create(conn)
        _version.create_all(conn)
        conn.execute(_version.tables["alembic_version"].insert().values(version_num=HEAD))


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "mis_sync.core:migrations")
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def upgrade_database(url: str) -> tuple[str | None, str]:
    """`mis-sync db upgrade`: the revision before, and the one after."""
    from sqlalchemy import create_engine

    from .engine import database_url

    engine = create_engine(database_url(url))
    try:
        before = current(engine)
        upgrade(engine)
        return before, HEAD
    finally:
        engine.dispose()
