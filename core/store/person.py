"""One person across the store: the keys that are about them (their own record's and their
contact links'), and everything stored under those keys (a subject access request).

`forget` (lifecycle.py) erases what `person_keys` finds and `export-person` exports it, so
the two always agree on whose data is whose. `Store` gets `person` by inheriting `People`.
"""

from __future__ import annotations

import json

from sqlalchemy import Connection, select, tuple_

from ..errors import ConfigError
from ..schema import link_part
from . import tables as t
from .queries import _event_json


class People:
    """`person`: the subject access export of one pupil, contact or teacher."""

    def person(self, school: str, entity: str, rid: str) -> dict:
        """Everything stored about one pupil, contact or teacher: a subject access request.

        Their record (also when soft-deleted) and their contact links, the local fields and
        left-out reasons of each, every event about them (erased values stay erased), the
        stopped runs that would have deleted them, and the classes and groups whose
        membership lists name them. ConfigError when the store
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
            sd = t.stopped_deletes.c
            would_delete = [
                {"run": run, "entity": e, "id": i}
                for run, e, i in conn.execute(
                    select(sd.run, sd.entity, sd.id)
                    .where(sd.school == school, tuple_(sd.entity, sd.id).in_(keys))
                    .order_by(sd.run, sd.entity, sd.id)
                )
            ]
            member_of = _member_of(conn, school, entity, rid)
        if not (records or local or left_out or events or would_delete):
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
            # stopped runs that would have deleted them (store/stopped.py): keys only
            "would_delete": would_delete,
        }


def person_keys(conn: Connection, school: str, entity: str, rid: str) -> list[tuple[str, str]]:
    """The stored keys that are about one person: their own, and for a pupil or a contact
    the contact links that name them (a link's ID is `student_id:contact_id`, each ID as
    schema.link_part writes it: `a:b` is `a%3Ab` there)."""
    keys = [(entity, rid)]
    side = {"students": "student_id", "contacts": "contact_id"}.get(entity)
    if side is None:
        return keys
    links = set()
    for table in (t.records, t.left_out, t.events):
        ids = table.c.id
        part = link_part(rid)
        named = (
            ids.startswith(f"{part}:", autoescape=True)
            if side == "student_id"
            else ids.endswith(f":{part}", autoescape=True)
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
