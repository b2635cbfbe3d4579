"""A stopped run keeps what it would have deleted (store/stopped.py), and successful runs
stored before runs kept their counts per entity get them, for the dashboard's sparklines.

The backfill: a run's `kept` per entity is what was live after it. The events say how that
moved: each insert or restore adds one, each delete takes one away (hand edits and erasures
are not a run's). Summed per school in run order, from the school's first run, they give
every older run its figure; where a run already has `kept`, that figure is taken as it is
and the sum goes on from there. An erasure (`forget`) made before this upgrade is not in the
sum, so the runs after one may count one record too many: docs/dashboard.md says so.

Revision ID: 0007
Revises: 0006
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"

# the entities as of this revision, in their order: a migration does not follow the code
ENTITIES = ("students", "contacts", "contact-links", "teachers", "classes", "groups")
STEP = {"insert": 1, "restore": 1, "delete": -1}


def upgrade() -> None:
    op.create_table(
        "stopped_deletes",
        sa.Column("run", sa.Integer, primary_key=True),
        sa.Column("entity", sa.String(20), primary_key=True),
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("school", sa.String(100), nullable=False),
    )
    op.create_index("stopped_deletes_school", "stopped_deletes", ["school", "entity", "id"])
    backfill_kept(op.get_bind())


def backfill_kept(conn) -> int:
    """Give every `ok` run without `kept` in its summary the counts its events add up to;
    how many runs got them."""
    runs = sa.table(
        "runs",
        sa.column("run", sa.Integer),
        sa.column("school", sa.String),
        sa.column("status", sa.String),
        sa.column("summary", sa.Text),
    )
    events = sa.table(
        "events",
        sa.column("run", sa.Integer),
        sa.column("entity", sa.String),
        sa.column("op", sa.String),
    )
    moved: dict[int, dict[str, int]] = {}
    for run, entity, kind, n in conn.execute(
        sa.select(events.c.run, events.c.entity, events.c.op, sa.func.count())
        .where(events.c.op.in_(tuple(STEP)))
        .group_by(events.c.run, events.c.entity, events.c.op)
    ):
        per = moved.setdefault(run, {})
        per[entity] = per.get(entity, 0) + STEP[kind] * n
    live: dict[str, dict[str, int]] = {}  # school -> entity -> kept after its latest run
    filled = []
    for run, school, summary in conn.execute(
        sa.select(runs.c.run, runs.c.school, runs.c.summary)
        .where(runs.c.status == "ok")
        .order_by(runs.c.run)
    ):
        saved = json.loads(summary) if summary else {}
        if saved.get("kept"):
            live[school] = dict(saved["kept"])
            continue
        counts = live.setdefault(school, dict.fromkeys(ENTITIES, 0))
        for entity, n in moved.get(run, {}).items():
            counts[entity] = counts.get(entity, 0) + n
        kept = {e: max(0, counts.get(e, 0)) for e in ENTITIES}
        filled.append({"k_run": run, "summary": json.dumps({**saved, "kept": kept})})
    if filled:
        conn.execute(
            runs.update()
            .where(runs.c.run == sa.bindparam("k_run"))
            .values(summary=sa.bindparam("summary")),
            filled,
        )
    return len(filled)


def downgrade() -> None:
    """The table goes; the backfilled counts stay (0006 reads `kept` where it is)."""
    op.drop_index("stopped_deletes_school", "stopped_deletes")
    op.drop_table("stopped_deletes")
