"""Contact-link keys become unambiguous: inside each ID of `student_id:contact_id` a `%` is
written `%25` and a `:` is written `%3A` (schema.link_id). Stored links whose IDs hold either
get their new key, read from the pair in their own JSON, so the next run sees them unchanged
(not as deletes and inserts). Their left-out rows, keyed the old way, are dropped: each run
writes its left-out records afresh. Event history keeps the keys it was written with.

Revision ID: 0004
Revises: 0003
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"

_records = sa.table(
    "records", sa.column("school"), sa.column("entity"), sa.column("id"), sa.column("data")
)
_left_out = sa.table("left_out", sa.column("school"), sa.column("entity"), sa.column("id"))


def _escape(rid: str) -> str:  # as schema.link_id, frozen here: a migration never changes
    return rid.replace("%", "%25").replace(":", "%3A")


def _touched(table):
    """Link rows whose key may change: only IDs holding `%` or `:` are written differently."""
    return sa.and_(
        table.c.entity == "contact-links",
        sa.or_(table.c.id.like("%:%:%"), table.c.id.contains("%", autoescape=True)),
    )


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(_records.c.school, _records.c.id, _records.c.data).where(_touched(_records))
    ).all()
    for school, old, data in rows:
        pair = json.loads(data)
        new = f"{_escape(pair['student_id'])}:{_escape(pair['contact_id'])}"
        if new != old:
            conn.execute(
                sa.update(_records)
                .where(
                    _records.c.school == school,
                    _records.c.entity == "contact-links",
                    _records.c.id == old,
                )
                .values(id=new)
            )
    conn.execute(sa.delete(_left_out).where(_touched(_left_out)))


def downgrade() -> None:
    """Keys go back to `student_id:contact_id` as they were written before (ambiguous)."""
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(_records.c.school, _records.c.id, _records.c.data).where(
            _records.c.entity == "contact-links", _records.c.id.contains("%", autoescape=True)
        )
    ).all()
    for school, new, data in rows:
        pair = json.loads(data)
        conn.execute(
            sa.update(_records)
            .where(
                _records.c.school == school,
                _records.c.entity == "contact-links",
                _records.c.id == new,
            )
            .values(id=f"{pair['student_id']}:{pair['contact_id']}")
        )
