"""What people look at: runs, changes, exports and explanations, read from the store.

One place for the read side, used by the CLI (and later the web) alike; `Store` gets these
methods by inheriting `Queries`, which needs only `self.engine`.
"""

from __future__ import annotations

import json

import msgspec
from sqlalchemy import Connection, select, tuple_

from ..errors import ConfigError
from ..schema import ENTITIES
from . import tables as t
from .tables import record_row as _is

HAND_OPS = ("local", "forget")  # events a person made, not a run


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

    def run(self, run: int) -> dict:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.runs).where(t.runs.c.run == run)).mappings().one()
        return _run_json(row)

    def changes(self, school: str | None = None, run: int | None = None) -> list[dict]:
        with self.engine.connect() as conn:
            if run is None:
                latest = select(t.runs.c.run).where(t.runs.c.status == "ok")
                if school:
                    latest = latest.where(t.runs.c.school == school)
                run = conn.execute(latest.order_by(t.runs.c.run.desc()).limit(1)).scalar()
                if run is None:
                    return []
            rows = conn.execute(
                select(t.events).where(t.events.c.run == run).order_by(t.events.c.event)
            ).mappings()
            return [_event_json(r) for r in rows]

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
        if stored is not None:
            reason = "no longer sent by the source"
        else:
            reason = self._gone_reason(school, entity, rid) or "never sent by the source"
        return {"entity": entity, "id": rid, "kept": False, "reasons": [reason]}

    def _gone_reason(self, school: str, entity: str, rid: str) -> str | None:
        """Why a record that left events behind is no longer stored: erased by a forget, or
        purged after the retention period (its events are all that is left)."""
        e = t.events.c
        with self.engine.connect() as conn:
            last = conn.execute(
                select(e.op, e.who, e.at)
                .where(e.school == school, e.entity == entity, e.id == rid)
                .order_by(e.event.desc())
                .limit(1)
            ).first()
        if last is None:
            return None
        if last.op == "forget":
            return f"forgotten: erased by {last.who} at {last.at}"
        return "no longer sent by the source, and purged after the retention period"

    def person(self, school: str, entity: str, rid: str) -> dict:
        """Everything stored about one pupil, contact or teacher: a subject access request.

        Their record (also when soft-deleted) and their contact links, the local fields and
        left-out reasons of each, every event about them (erased values stay erased), and
        the classes and groups whose membership lists name them. ConfigError when the store
        holds nothing about them.
        """
        with self.engine.connect() as conn:
            keys = person_keys(conn, school, entity, rid)
            rc = t.records.c
            records = [
                {"entity": e, "id": i, "deleted": d, "data": json.loads(data)}
                for e, i, d, data in conn.execute(
                    select(rc.entity, rc.id, rc.deleted, rc.data)
                    .where(rc.school == school, tuple_(rc.entity, rc.id).in_(keys))
                    .order_by(rc.entity, rc.id)
                )
            ]
            lf = t.local_fields.c
            local = [
                {"entity": e, "id": i, "field": f, "value": v}
                for e, i, f, v in conn.execute(
                    select(lf.entity, lf.id, lf.field, lf.value)
                    .where(lf.school == school, tuple_(lf.entity, lf.id).in_(keys))
                    .order_by(lf.entity, lf.id, lf.field)
                )
            ]
            lo = t.left_out.c
            left_out = [
                {"entity": e, "id": i, "reasons": json.loads(r)}
                for e, i, r in conn.execute(
                    select(lo.entity, lo.id, lo.reasons)
                    .where(lo.school == school, tuple_(lo.entity, lo.id).in_(keys))
                    .order_by(lo.entity, lo.id)
                )
            ]
            ev = t.events.c
            events = [
                _event_json(r)
                for r in conn.execute(
                    select(t.events)
                    .where(ev.school == school, tuple_(ev.entity, ev.id).in_(keys))
                    .order_by(ev.event)
                ).mappings()
            ]
            member_of = _member_of(conn, school, entity, rid)
        if not (records or local or left_out or events):
            raise ConfigError(f"school {school!r}: nothing is stored about {entity} {rid!r}")
        return {
            "school": school,
            "entity": entity,
            "id": rid,
            "records": records,
            "local_fields": local,
            "left_out": left_out,
            "events": events,
            "member_of": member_of,
        }


def person_keys(conn: Connection, school: str, entity: str, rid: str) -> list[tuple[str, str]]:
    """The stored keys that are about one person: their own, and for a pupil or a contact
    the contact links that name them (a link's ID is `student_id:contact_id`)."""
    keys = [(entity, rid)]
    side = {"students": "student_id", "contacts": "contact_id"}.get(entity)
    if side is None:
        return keys
    links = set()
    for table in (t.records, t.left_out, t.events):
        ids = table.c.id
        named = (
            ids.startswith(f"{rid}:", autoescape=True)
            if side == "student_id"
            else ids.endswith(f":{rid}", autoescape=True)
        )
        query = select(ids, table.c.data if table is t.records else ids).where(
            table.c.school == school, table.c.entity == "contact-links", named
        )
        for lid, data in conn.execute(query):
            # a stored link says whose it is; elsewhere (left out, or only its events left
            # after a purge or a forget) its ID is all there is to go by
            if table is not t.records or json.loads(data)[side] == rid:
                links.add(("contact-links", lid))
    return keys + sorted(links)


def _member_of(conn: Connection, school: str, entity: str, rid: str) -> list[dict]:
    """The classes and groups whose stored lists name a pupil or a teacher."""
    if entity not in ("students", "teachers"):
        return []
    c = t.records.c
    rows = conn.execute(
        select(c.entity, c.id, c.data).where(
            c.school == school,
            c.entity.in_(("classes", "groups")),
            c.deleted.is_(False),
            c.data.contains(json.dumps(rid), autoescape=True),  # then checked below
        )
    )
    out = []
    for group_entity, gid, data in rows:
        record = json.loads(data)
        if entity == "students":
            named = rid in record.get("student_ids", [])
        else:
            named = any(x["teacher_id"] == rid for x in record.get("teachers", []))
        if named:
            out.append({"entity": group_entity, "id": gid})
    return sorted(out, key=lambda x: (x["entity"], x["id"]))


def _event_json(r) -> dict:
    out = {
        "run": r["run"],
        "entity": r["entity"],
        "id": r["id"],
        "op": r["op"],
        "changes": _changes(r["op"], r["changes"]),
    }
    if r["op"] in HAND_OPS:  # made by a person: who and when (a run's are its run's)
        out.update(who=r["who"], when=r["at"])
    return out


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
        "message": row["message"],
    }
