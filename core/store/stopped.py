"""What a run stopped by the mass-delete safeguard would have deleted: the keys, kept with it.

The safeguard stops a run before it writes (Store.apply raises SafeguardStop with the
plan's deletes); the run's row is marked `stopped` by `Store.fail_run`, which writes these
keys in the same transaction, so a stopped run never lacks its list and a run that
committed never gets one. Only entity and MIS ID are kept: what an operator needs to check
the MIS, and nothing more of a pupil's. The Run page, the API's run route and
`mis-sync changes --run N` read them (`Stopped.would_delete`); the retention purge and
`forget` remove them (lifecycle.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, delete, func, select

from ..schema import ENTITIES
from . import tables as t
from .queries import narrowed

WOULD_DELETE = "would-delete"  # the op `changes --json` gives a stopped run's keys


def record(conn: Connection, run: int, keys: Iterable[tuple[str, str]]) -> int:
    """Keep the (entity, MIS ID) keys the stopped `run` would have deleted, in the caller's
    transaction (the one that marks the run stopped); how many were written."""
    rows = sorted(set(keys))
    if not rows:
        return 0
    school = conn.execute(select(t.runs.c.school).where(t.runs.c.run == run)).scalar_one()
    conn.execute(
        t.stopped_deletes.insert(),
        [{"run": run, "school": school, "entity": e, "id": i} for e, i in rows],
    )
    return len(rows)


def purge_through(conn: Connection, school: str, through: int) -> int:
    """The retention purge: the keys of the school's stopped runs up to `through` go."""
    s = t.stopped_deletes.c
    return conn.execute(
        delete(t.stopped_deletes).where(s.school == school, s.run <= through)
    ).rowcount


class Stopped:
    engine = None  # set by Store

    def would_delete(
        self,
        run: int,
        *,
        entity: str | None = None,
        rid: str | None = None,
        per_entity: int | None = None,
    ) -> dict[str, dict]:
        """What the stopped `run` would have deleted, by entity in the entities' order:
        `{"students": {"count": 40, "ids": ["4821", ...]}}`, IDs sorted as text.

        Empty for a run that was not stopped by the safeguard (or stopped before the store
        kept these). `rid` matches as `changes --id` does; `per_entity` caps the IDs listed
        (the count stays whole), so a page of 30,000 would-be deletes stays small.
        """
        s = t.stopped_deletes.c
        where = [s.run == run, *narrowed(t.stopped_deletes, entity, rid)]
        with self.engine.connect() as conn:
            counts = dict(
                conn.execute(select(s.entity, func.count()).where(*where).group_by(s.entity)).all()
            )
            listed = select(s.entity, s.id).where(*where)
            if per_entity is not None:
                ranked = listed.add_columns(
                    func.row_number().over(partition_by=s.entity, order_by=s.id).label("n")
                ).subquery()
                listed = select(ranked.c.entity, ranked.c.id).where(ranked.c.n <= per_entity)
            rows = conn.execute(listed).all()
        ids: dict[str, list[str]] = {}
        for ent, i in rows:
            ids.setdefault(ent, []).append(i)
        for listed_ids in ids.values():
            listed_ids.sort()  # as text, the same on every database's collation
        order = [e for e in ENTITIES if e in counts] + sorted(set(counts) - set(ENTITIES))
        return {e: {"count": counts[e], "ids": ids.get(e, [])} for e in order}


def as_events(run: int, groups: dict[str, dict]) -> list[dict]:
    """The keys in the shape of `changes --json`'s events, op WOULD_DELETE: nothing was
    deleted, and a script that acts on `delete` events must not take these for deletes."""
    return [
        {"run": run, "entity": entity, "id": rid, "op": WOULD_DELETE, "changes": {}}
        for entity, group in groups.items()
        for rid in group["ids"]
    ]
