"""What the dashboard looks at first: the fleet, a school's counts over time, one record.

Read-only, bounded queries (a fixed number per page, each with a limit), so the fleet page of
500 schools stays fast (benchmarks/web.py). `Store` gets these by inheriting `Overview`; the
CLI may call them too. Kept counts per run come from the run's stored summary (`kept`, written
by `Store.apply`); runs stored before it was written got theirs from migration 0007, summed
from their events.
"""

from __future__ import annotations

import json

import msgspec
from sqlalchemy import func, select

from ..schema import ENTITIES
from . import tables as t
from .queries import _changes, _run_json, id_matches

SPARK_RUNS = 10  # runs a fleet row's sparkline covers
NAMED = ("students", "contacts", "teachers")  # the entities a name search looks in
FOUND = 50  # records a search lists at most
NAME_FIELDS = ("known_name", "forename", "surname")


class Overview:
    engine = None  # set by Store

    def fleet(self, schools: list[str] | None = None) -> list[dict]:
        """Every school with its latest run (any status) and its last successful run's time,
        plus `kept` per entity over its last successful runs (oldest first), for sparklines.

        :param schools: only these (a user scoped to some schools); None for all.
        """
        r = t.runs.c
        ranked = select(
            r.school,
            r.run,
            r.status,
            r.started,
            r.summary,
            func.row_number().over(partition_by=r.school, order_by=r.run.desc()).label("n"),
        )
        latest = select(func.max(r.run)).group_by(r.school)
        last_ok = select(r.school, func.max(r.finished)).where(r.status == "ok").group_by(r.school)
        if schools is not None:
            ranked = ranked.where(r.school.in_(schools))
            latest = latest.where(r.school.in_(schools))
            last_ok = last_ok.where(r.school.in_(schools))
        ok_ranked = ranked.where(r.status == "ok").subquery()
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.runs).where(r.run.in_(latest))).mappings().all()
            ok = dict(conn.execute(last_ok).all())
            history = conn.execute(
                select(ok_ranked.c.school, ok_ranked.c.summary)
                .where(ok_ranked.c.n <= SPARK_RUNS)
                .order_by(ok_ranked.c.school, ok_ranked.c.run)
            ).all()
        kept: dict[str, dict[str, list[int]]] = {}
        for school, summary in history:
            counts = msgspec.json.decode(summary or "{}", type=_Kept).kept
            if counts:
                per = kept.setdefault(school, {})
                for entity, n in counts.items():
                    per.setdefault(entity, []).append(n)
        return [
            {
                "school": row["school"],
                "connector": row["connector"],
                "last_run": _run_json(row),
                "last_ok": ok.get(row["school"]),
                "kept": kept.get(row["school"], {}),
            }
            for row in rows
        ]

    def kept_history(self, school: str, limit: int = 50) -> list[dict]:
        """The school's last successful runs, oldest first: counts and `kept` per entity."""
        r = t.runs.c
        with self.engine.connect() as conn:
            rows = (
                conn.execute(
                    select(t.runs)
                    .where(r.school == school, r.status == "ok")
                    .order_by(r.run.desc())
                    .limit(limit)
                )
                .mappings()
                .all()
            )
        return [
            {**_run_json(row), "kept": json.loads(row["summary"] or "{}").get("kept", {})}
            for row in reversed(rows)
        ]

    def entity_counts(self, school: str) -> dict[str, int]:
        """Stored live records per entity now, in the entities' order."""
        rec = t.records.c
        with self.engine.connect() as conn:
            rows = dict(
                conn.execute(
                    select(rec.entity, func.count())
                    .where(rec.school == school, rec.deleted.is_(False))
                    .group_by(rec.entity)
                ).all()
            )
        return {e: rows.get(e, 0) for e in ENTITIES}

    def record(self, school: str, entity: str, rid: str) -> dict | None:
        """One stored record (deleted ones too, marked) with its local fields, or None."""
        rec = t.records
        with self.engine.connect() as conn:
            row = conn.execute(
                select(rec.c.data, rec.c.deleted, rec.c.run).where(
                    t.record_row(rec, school, entity, rid)
                )
            ).first()
            if row is None:
                return None
            local = conn.execute(
                select(t.local_fields.c.field, t.local_fields.c.value).where(
                    t.record_row(t.local_fields, school, entity, rid)
                )
            ).all()
        return {
            "entity": entity,
            "id": rid,
            "deleted": row.deleted,
            "run": row.run,
            "fields": msgspec.json.decode(row.data),
            "local": dict(local),
        }

    def history(self, school: str, entity: str, rid: str, limit: int = 100) -> list[dict]:
        """Every change event of one record across runs, newest first (as `changes` shows)."""
        e = t.events.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(e.run, e.entity, e.id, e.op, e.changes)
                .where(e.school == school, e.entity == entity, e.id == rid)
                .order_by(e.event.desc())
                .limit(limit)
            ).mappings()
            return [
                {
                    "run": r["run"],
                    "entity": r["entity"],
                    "id": r["id"],
                    "op": r["op"],
                    "changes": _changes(r["op"], r["changes"]),
                }
                for r in rows
            ]

    def find_records(self, school: str, text: str) -> list[dict]:
        """Stored records of a school whose MIS ID is `text`, or whose names contain it.

        IDs match as `changes --id` does (id_matches); names in any case, forename or
        surname, among students, contacts and teachers. At most FOUND, by entity and ID.
        """
        rec = t.records.c
        needle = text.strip().casefold()
        if not needle:
            return []
        base = select(rec.entity, rec.id, rec.data, rec.deleted).where(rec.school == school)
        with self.engine.connect() as conn:
            by_id = conn.execute(base.where(id_matches(rec.id, text.strip())).limit(FOUND)).all()
            named = conn.execute(base.where(rec.entity.in_(NAMED))).all()
        found: dict[tuple[str, str], dict] = {}
        for entity, rid, data, deleted in by_id:
            found[(entity, rid)] = _found(entity, rid, msgspec.json.decode(data), deleted)
        for entity, rid, data, deleted in named:
            if len(found) >= FOUND:
                break
            fields = msgspec.json.decode(data)
            name = " ".join(str(fields.get(k) or "") for k in NAME_FIELDS).casefold()
            if needle in name:
                found.setdefault((entity, rid), _found(entity, rid, fields, deleted))
        order = {e: n for n, e in enumerate(ENTITIES)}
        return sorted(found.values(), key=lambda f: (order.get(f["entity"], 99), f["id"]))


class _Kept(msgspec.Struct):
    """The one key of a run's summary the fleet reads: decoding only it is the fast path."""

    kept: dict[str, int] = {}


def _found(entity: str, rid: str, fields: dict, deleted: bool) -> dict:
    name = " ".join(str(fields[k]) for k in NAME_FIELDS if fields.get(k))
    return {"entity": entity, "id": rid, "name": name or None, "deleted": deleted}
