"""The first schema: records, left_out, local_fields, runs, events.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def key() -> list[sa.Column]:
    return [
        sa.Column("school", sa.String(100), primary_key=True),
        sa.Column("entity", sa.String(20), primary_key=True),
        sa.Column("id", sa.String(255), primary_key=True),
    ]


def upgrade() -> None:
    op.create_table(
        "records",
        *key(),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("hash", sa.String(32), nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("run", sa.Integer, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table("left_out", *key(), sa.Column("reasons", sa.Text, nullable=False))
    op.create_table(
        "local_fields",
        *key(),
        sa.Column("field", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text),
    )
    op.create_table(
        "runs",
        sa.Column("run", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("school", sa.String(100), nullable=False),
        sa.Column("connector", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started", sa.String(32), nullable=False),
        sa.Column("finished", sa.String(32)),
        sa.Column("inserted", sa.Integer, nullable=False),
        sa.Column("updated", sa.Integer, nullable=False),
        sa.Column("deleted", sa.Integer, nullable=False),
        sa.Column("left_out", sa.Integer, nullable=False),
        sa.Column("message", sa.Text),
        sa.Column("overridden", sa.Boolean, nullable=False),
        sa.Column("summary", sa.Text),
    )
    op.create_index("runs_school", "runs", ["school", "run"])
    op.create_table(
        "events",
        sa.Column("event", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run", sa.Integer, nullable=False),
        sa.Column("school", sa.String(100), nullable=False),
        sa.Column("entity", sa.String(20), nullable=False),
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("op", sa.String(8), nullable=False),
        sa.Column("changes", sa.Text, nullable=False),
    )
    op.create_index("events_run", "events", ["run"])


def downgrade() -> None:
    for table in ("events", "runs", "local_fields", "left_out", "records"):
        op.drop_table(table)
