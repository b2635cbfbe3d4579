"""What people look at: runs, changes, exports and explanations, read from the store.

One place for the read side, used by the CLI (and later the web) alike; `Store` gets these
methods by inheriting `Queries`, which needs only `self.engine`.
"""

from __future__ import annotations

import json

import msgspec
from sqlalchemy import Connection, select

from ..errors import ConfigError
from ..schema import ENTITIES
from . import tables as t
from .tables import record_row as _is


class Queries:
    engine = None  # set by Store

    def runs(self, school: str | None = None, limit: int | None = None) -> list[dict]:
        query = select(t.runs).order_by(t.runs.c.run.desc())
        if school:
            query = query.where(t.runs.c.school == school)
        if limit:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [_run_json(r) for r in conn.execute(query).mappings()]

    def schools(self) -> list[str]:
        """The school keys that have runs stored (the demo database's schools)."""
        with self.engine.connect() as conn:
            query = select(t.runs.c.school).distinct().order_by(t.runs.c.school)
            return list(conn.execute(query).scalars())

    def stored_connector(self, school: str) -> str | None:
        """The connector of the school's latest successful run: whose records are stored."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(t.runs.c.connector)
                .where(t.runs.c.school == school, t.runs.c.status == "ok")
                .order_by(t.runs.c.run.desc())
                .limit(1)
            ).scalar()

    def run(self, run: int) -> dict:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.runs).where(t.runs.c.run == run)).mappings().one()
        return _run_json(row)

    def changes(self, school: str, run: int | None = None) -> list[dict]:
        """The change events of one of the school's runs (default: its latest completed).

        A run of another school, or none at all, is an error: never another school's data.
        """
        with self.engine.connect() as conn:
            if run is None:
                latest = select(t.runs.c.run).where(
                    t.runs.c.status == "ok", t.runs.c.school == school
                )
                run = conn.execute(latest.order_by(t.runs.c.run.desc()).limit(1)).scalar()
                if run is None:
                    return []
            else:
                owner = conn.execute(select(t.runs.c.school).where(t.runs.c.run == run)).scalar()
                if owner != school:
                    raise ConfigError(
                        f"school {school!r} has no run {run}"
                        + ("" if owner is None else " (it is another school's)")
                        + f"; `mis-sync runs --school {school}` lists its runs"
                    )
            rows = conn.execute(
                select(t.events).where(t.events.c.run == run).order_by(t.events.c.event)
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

    def export(self, school: str, entity: str, local: dict[str, set[str]]) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.records.c.id, t.records.c.data).where(
                    t.records.c.school == school,
                    t.records.c.entity == entity,
                    t.records.c.deleted.is_(False),
                )
            ).all()
            values = self._local_values(conn, school, entity)
        out = []
        for rid, data in rows:
            record = msgspec.json.decode(data)
            for field in local.get(entity, ()):
                record[field] = values.get((rid, field))
            out.append(
                {f: record.get(f) for f in ENTITIES[entity].__struct_fields__ if f != "source_type"}
            )
        key = (
            (lambda r: (r["student_id"], r["contact_id"]))
            if entity == "contact-links"
            else (lambda r: r["id"])
        )
        return sorted(out, key=key)

    def stored_copies(self, school: str, keys: list[tuple[str, str]]) -> list[tuple[str, object]]:
        """The live stored records for (entity, id) keys, decoded back into canonical structs."""
        out = []
        if not keys:  # the usual case: no record failed validation
            return out
        with self.engine.connect() as conn:
            for entity, rid in keys:
                data = conn.execute(
                    select(t.records.c.data).where(
                        _is(t.records, school, entity, rid),
                        t.records.c.deleted.is_(False),
                    )
                ).scalar()
                if data is not None:
                    out.append((entity, msgspec.json.decode(data, type=ENTITIES[entity])))
        return out

    def _local_values(self, conn: Connection, school: str, entity: str) -> dict:
        rows = conn.execute(
            select(t.local_fields.c.id, t.local_fields.c.field, t.local_fields.c.value).where(
                t.local_fields.c.school == school, t.local_fields.c.entity == entity
            )
        )
        return {(i, f): v for i, f, v in rows}

    def explain(self, school: str, entity: str, rid: str) -> dict:
        with self.engine.connect() as conn:
            stored = conn.execute(
                select(t.records.c.deleted).where(_is(t.records, school, entity, rid))
            ).first()
            out = conn.execute(
                select(t.left_out.c.reasons).where(_is(t.left_out, school, entity, rid))
            ).scalar()
        if stored is not None and not stored.deleted and out is None:
            return {"entity": entity, "id": rid, "kept": True, "reasons": []}
        if out is not None:
            reasons = json.loads(out)
            if stored is not None and not stored.deleted:
                reasons = ["stored copy kept unchanged", *reasons]
            return {"entity": entity, "id": rid, "kept": False, "reasons": reasons}
        reason = (
            "no longer sent by the source" if stored is not None else "never sent by the source"
        )
        return {"entity": entity, "id": rid, "kept": False, "reasons": [reason]}


def _changes(op: str, stored: str) -> dict:
    """Events of inserts hold the new record; shown, like the others, as [old, new] per field."""
    changes = msgspec.json.decode(stored)
    if op == "insert":
        return {k: [None, v] for k, v in changes.items() if v is not None}
    return changes


def _run_json(row) -> dict:
    return {
        "run": row["run"],
        "school": row["school"],
        "connector": row["connector"],
        "status": row["status"],
        "started": row["started"],
        "finished": row["finished"],
        "inserted": row["inserted"],
        "updated": row["updated"],
        "deleted": row["deleted"],
        "left_out": row["left_out"],
        "origin": row["origin"],
        "mass_delete_allowed": bool(row["overridden"]),
        "message": row["message"],
    }
