"""Connectors may keep their own picture of a source that sends only changes (a OneRoster
delta), stored with each run: the canonical records hold only what the rules kept.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "source_state",
        sa.Column("school", sa.String(100), primary_key=True),
        sa.Column("connector", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("run", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("source_state")
