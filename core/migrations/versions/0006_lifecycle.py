"""Pupils' data has a lifecycle: events say who made a hand edit or an erasure and when, and
each school's retention purge keeps how far it has gone (store/lifecycle.py).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("who", sa.String(200)))
        batch.add_column(sa.Column("at", sa.String(32)))
    op.create_table(
        "purges",
        sa.Column("school", sa.String(100), primary_key=True),
        sa.Column("through_run", sa.Integer, nullable=False),
        sa.Column("at", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("purges")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("at")
        batch.drop_column("who")
