"""The tables, in SQLAlchemy Core so that SQLite and PostgreSQL share one definition.

All six entities live in one `records` table keyed by (school, entity, id): the diff, the
soft delete and the export are the same code for every entity. A record's JSON holds its
membership lists, so a changed class rewrites one row, not thousands. A change here needs a
migration in core/migrations/versions; tests/core/test_migrations.py compares the two.
"""

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    and_,
)

metadata = MetaData()

records = Table(
    "records",
    metadata,
    Column("school", String(100), primary_key=True),
    Column("entity", String(20), primary_key=True),
    Column("id", String(255), primary_key=True),
    Column("data", Text, nullable=False),  # canonical fields as JSON, local fields excluded
    Column("hash", String(32), nullable=False),  # blake2b of data: the diff compares this
    Column("deleted", Boolean, nullable=False),
    Column("run", Integer, nullable=False),  # the run that last changed this row
    # SQLite keeps the rows in key order, so one school's hashes are read in one sweep
    sqlite_with_rowid=False,
)

left_out = Table(
    "left_out",
    metadata,
    Column("school", String(100), primary_key=True),
    Column("entity", String(20), primary_key=True),
    Column("id", String(255), primary_key=True),
    Column("reasons", Text, nullable=False),  # JSON list, the rule first
)

local_fields = Table(
    "local_fields",
    metadata,
    Column("school", String(100), primary_key=True),
    Column("entity", String(20), primary_key=True),
    Column("id", String(255), primary_key=True),
    Column("field", String(64), primary_key=True),
    Column("value", Text),
)

runs = Table(
    "runs",
    metadata,
    Column("run", Integer, primary_key=True, autoincrement=True),
    Column("school", String(100), nullable=False),
    Column("connector", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # running, ok, failed, stopped
    Column("started", String(32), nullable=False),  # ISO 8601 UTC, as the JSON shows it
    Column("finished", String(32)),
    Column("inserted", Integer, nullable=False, default=0),
    Column("updated", Integer, nullable=False, default=0),
    Column("deleted", Integer, nullable=False, default=0),
    Column("left_out", Integer, nullable=False, default=0),
    Column("merged", Integer, nullable=False, server_default="0"),  # duplicates merged
    Column("message", Text),
    Column("overridden", Boolean, nullable=False, default=False),
    Column("summary", Text),  # JSON: left_out_by_reason, near_duplicates, kept per entity
    Column("origin", String(200), nullable=False, server_default="cli"),  # cli or worker name
    Index("runs_school", "school", "run"),
)

events = Table(
    "events",
    metadata,
    Column("event", Integer, primary_key=True, autoincrement=True),
    Column("run", Integer, nullable=False),
    Column("school", String(100), nullable=False),
    Column("entity", String(20), nullable=False),
    Column("id", String(255), nullable=False),
    # insert, update, delete, restore (a run's); local (a hand edit), forget (an erasure)
    Column("op", String(8), nullable=False),
    # JSON {field: [old, new]}, {"reason": ...} for a delete, the new record for an insert;
    # after retention or an erasure the values are ERASED and only the field names remain
    Column("changes", Text, nullable=False),
    # who made a local edit or an erasure (OS or dashboard user) and when; null for a run's
    # events, whose time is their run's. A hand-made event's run is the school's latest
    # completed run when it was made, so `changes` lists it with that run.
    Column("who", String(200)),
    Column("at", String(32)),
    Index("events_run", "run"),
)

# A connector's own picture of its source, for sources that send only changes (hookspecs,
# mis_sync_map): one row per school, replaced by each successful run in its transaction.
source_state = Table(
    "source_state",
    metadata,
    Column("school", String(100), primary_key=True),
    Column("connector", String(64), nullable=False),  # handed back only to the same connector
    Column("data", LargeBinary, nullable=False),
    Column("run", Integer, nullable=False),  # the run that stored it
)

# The near-duplicate register (store/duplicates.py): pairs a run reported, kept across runs so
# a school can work through them and dismiss those that are two people.
near_duplicates = Table(
    "near_duplicates",
    metadata,
    Column("school", String(100), primary_key=True),
    Column("a", String(255), primary_key=True),  # the pair's IDs, a < b as strings
    Column("b", String(255), primary_key=True),
    Column("why", String(32), nullable=False),  # "same email" or "same names"
    Column("first_seen", String(32), nullable=False),  # ISO 8601 UTC, the run's start
    Column("last_seen", String(32), nullable=False),
    Column("last_run", Integer, nullable=False),  # the latest run that reported it
    Column("dismissed", String(32)),  # when the school said "not a duplicate", or null
    Column("records", Text, nullable=False),  # JSON {id: contact fields + pupils}, as last seen
)


# How far each school's retention purge has gone (store/lifecycle.py): every event and run
# summary of its runs up to `through_run` has lost its values, and no record soft-deleted by
# one of those runs is left, so a purge after an unchanged run has nothing to look at.
purges = Table(
    "purges",
    metadata,
    Column("school", String(100), primary_key=True),
    Column("through_run", Integer, nullable=False),
    Column("at", String(32), nullable=False),  # when that purge ran
)


# What a run stopped by the mass-delete safeguard would have deleted (store/stopped.py): keys
# only, never a record's fields, written with the run's `stopped` status in one transaction.
# The retention purge and `forget` remove them as they do the records (store/lifecycle.py).
stopped_deletes = Table(
    "stopped_deletes",
    metadata,
    Column("run", Integer, primary_key=True),
    Column("entity", String(20), primary_key=True),
    Column("id", String(255), primary_key=True),
    Column("school", String(100), nullable=False),
    Index("stopped_deletes_school", "school", "entity", "id"),
)


def stamp(when: datetime | None = None) -> str:
    """Every stored time: ISO 8601 UTC to the second, as the JSON shows it (now by default).
    Strings of this one form sort as times, so a cutoff is a string comparison in SQL."""
    return (when or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def record_row(table, school: str, entity: str, rid: str):
    """The one row of `table` for a school's record."""
    return and_(table.c.school == school, table.c.entity == entity, table.c.id == rid)
