"""What the data manager sees: the near-duplicate register, merged duplicates counted apart
from left-out records in `runs`, and the SQL views that are the store's stable read interface.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from mis_sync.core.store import views

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("merged", sa.Integer, nullable=False, server_default="0"))
    op.create_table(
        "near_duplicates",
        sa.Column("school", sa.String(100), primary_key=True),
        sa.Column("a", sa.String(255), primary_key=True),
        sa.Column("b", sa.String(255), primary_key=True),
        sa.Column("why", sa.String(32), nullable=False),
        sa.Column("first_seen", sa.String(32), nullable=False),
        sa.Column("last_seen", sa.String(32), nullable=False),
        sa.Column("last_run", sa.Integer, nullable=False),
        sa.Column("dismissed", sa.String(32)),
        sa.Column("records", sa.Text, nullable=False),
    )
    views.create(op.get_bind())


def downgrade() -> None:
    views.drop(op.get_bind())
    op.drop_table("near_duplicates")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("merged")
