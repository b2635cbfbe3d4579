"""What people look at: runs, changes, exports and explanations, read from the store.

One place for the read side, used by the CLI (and later the web) alike; `Store` gets these
methods by inheriting `Queries`, which needs only `self.engine`.
"""

from __future__ import annotations

import json
import re

import msgspec
from sqlalchemy import Connection, and_, func, or_, select

from ..errors import ConfigError
from ..rules import MERGED
from ..schema import ENTITIES, link_part
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

    def latest_run(self, school: str) -> int | None:
        """The school's latest successful run, or None before its first."""
        with self.engine.connect() as conn:
            return self._run_or_latest(conn, school, None)

    def schools(self) -> list[str]:
        """The school keys that have runs stored (the demo database's schools)."""
        with self.engine.connect() as conn:
            query = select(t.runs.c.school).distinct().order_by(t.runs.c.school)
            return list(conn.execute(query).scalars())

    def connector_of(self, school: str, *, stored: bool = False) -> str | None:
        """The connector of the school's latest run, whatever its outcome (a school with no
        config entry, or whose runs all failed, still has one); with `stored`, of its latest
        successful run: whose records are stored."""
        query = select(t.runs.c.connector).where(t.runs.c.school == school)
        if stored:
            query = query.where(t.runs.c.status == "ok")
        with self.engine.connect() as conn:
            return conn.execute(query.order_by(t.runs.c.run.desc()).limit(1)).scalar()

    def run(self, run: int) -> dict:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.runs).where(t.runs.c.run == run)).mappings().one()
        return _run_json(row)

    def changes(
        self,
        school: str | None = None,
        run: int | None = None,
        *,
        entity: str | None = None,
        op: str | None = None,
        rid: str | None = None,
        limit: int | None = None,
    ) -> list[dict]:
        """A run's events (default: the school's latest successful one), in order.

        A run of another school, or none at all, is an error: never another school's data.

        :param rid: a record's ID as the MIS knows it (see `id_matches`).
        """
        with self.engine.connect() as conn:
            run = self._run_or_latest(conn, school, run)
            if run is None:
                return []
            query = (
                select(t.events)
                .where(_event_filter(run, school, entity, op, rid))
                .order_by(t.events.c.event)
            )
            if limit:
                query = query.limit(limit)
            return [_event_json(r) for r in conn.execute(query).mappings()]

    def change_summary(
        self,
        school: str | None = None,
        run: int | None = None,
        *,
        entity: str | None = None,
        op: str | None = None,
        rid: str | None = None,
    ) -> dict:
        """What `changes` shows above its events: the run, counts per entity and op, how many
        events match the filters, and, for a run that changed nothing, the latest that did."""
        e = t.events.c
        with self.engine.connect() as conn:
            run = self._run_or_latest(conn, school, run)
            counts: dict[str, dict[str, int]] = {}
            matched = latest = None
            if run is not None:
                rows = conn.execute(
                    select(e.entity, e.op, func.count())
                    .where(_event_filter(run, school, None, None, None))
                    .group_by(e.entity, e.op)
                )
                for ent, o, n in rows:
                    counts.setdefault(ent, {})[o] = n
                counts = {k: counts[k] for k in ENTITIES if k in counts}
                matched = conn.execute(
                    select(func.count()).where(_event_filter(run, school, entity, op, rid))
                ).scalar()
            if not counts:
                query = select(func.max(e.run))
                if school:
                    query = query.where(e.school == school)
                latest = conn.execute(query).scalar()
        return {"run": run, "counts": counts, "matched": matched or 0, "latest_changing": latest}

    def _run_or_latest(self, conn: Connection, school: str | None, run: int | None):
        """The run asked for, which must be the school's, else the school's latest ok run."""
        if run is not None:
            owner = conn.execute(select(t.runs.c.school).where(t.runs.c.run == run)).scalar()
            if school and owner != school:
                raise ConfigError(
                    f"school {school!r} has no run {run}"
                    + ("" if owner is None else " (it is another school's)")
                    + f"; `mis-sync runs --school {school}` lists its runs"
                )
            return run
        latest = select(t.runs.c.run).where(t.runs.c.status == "ok")
        if school:
            latest = latest.where(t.runs.c.school == school)
        return conn.execute(latest.order_by(t.runs.c.run.desc()).limit(1)).scalar()

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
        """Kept or not, and why; looked up by the MIS's own ID too.

        `kept` is what `export` says: a record kept from its last good copy is kept. A
        combined contact's own ID (P9001) is explained through its two halves.
        """
        if entity == "contact-links" and ":" not in rid:
            raise ConfigError(
                f"contact-links: {rid!r} is not a link ID; a link's ID is"
                f" student_id:contact_id ({rid}:CONTACT_ID or STUDENT_ID:{rid}); `mis-sync left-out"
                f" contact-links --id {rid}` lists the left-out links of {rid}"
            )
        with self.engine.connect() as conn:
            answer = _explain_one(conn, school, entity, rid)
            if entity == "contacts" and answer["reasons"] == [NEVER_SENT]:
                halves = [f"{rid}-1", f"{rid}-2"]
                parts = [_explain_one(conn, school, entity, h) for h in halves]
                if any(p["reasons"] != [NEVER_SENT] for p in parts):
                    return {
                        "entity": entity,
                        "id": rid,
                        "kept": False,
                        "reasons": [
                            f"split into {halves[0]} and {halves[1]}: its title names two people"
                        ],
                        "split_into": halves,
                        "parts": parts,
                    }
        return answer

    def left_out(self, school: str, *, entity: str | None = None, rid: str | None = None) -> dict:
        """Every record the school's latest successful run left out, with its reasons.

        The `left_out` table is what that run left it: each run replaces its school's rows.
        """
        lo = t.left_out.c
        where = [lo.school == school, *narrowed(t.left_out, entity, rid)]
        order = {e: n for n, e in enumerate(ENTITIES)}
        with self.engine.connect() as conn:
            run = self._run_or_latest(conn, school, None)
            rows = conn.execute(select(lo.entity, lo.id, lo.reasons).where(*where)).all()
        records = [{"entity": e, "id": i, "reasons": json.loads(r)} for e, i, r in rows]
        records.sort(key=lambda r: (order.get(r["entity"], 99), r["id"]))
        return {"run": run, "records": records}

    def export_parents(self, school: str) -> list[dict]:
        """The product guide's "Export Parents": each kept contact with its kept pupils."""
        pupils: dict[str, list[dict]] = {}
        for lk in self.export(school, "contact-links", {}):
            pupils.setdefault(lk["contact_id"], []).append(
                {k: lk[k] for k in ("student_id", "relationship", "parental_responsibility")}
            )
        return [
            {
                **{k: c[k] for k in PARENT_FIELDS},
                "pupils": pupils.get(c["id"], []),
            }
            for c in self.export(school, "contacts", {})
        ]


NEVER_SENT = "never sent by the source"
PARENT_FIELDS = ("id", "title", "forename", "surname", "email", "phone", "relationship")
INVALID = "failed validation"


def _explain_one(conn: Connection, school: str, entity: str, rid: str) -> dict:
    stored = conn.execute(
        select(t.records.c.deleted).where(_is(t.records, school, entity, rid))
    ).first()
    out = conn.execute(
        select(t.left_out.c.reasons).where(_is(t.left_out, school, entity, rid))
    ).scalar()
    live = stored is not None and not stored.deleted
    answer = {"entity": entity, "id": rid, "kept": live, "reasons": []}
    if out is not None:
        reasons = json.loads(out)
        if live and reasons[0] == INVALID:  # the stored copy stands in for it (pipeline)
            reasons = ["kept unchanged: the MIS now sends an invalid record", *reasons[1:]]
        elif reasons[0] == MERGED and (
            into := re.search(r"merged into \w+ (\S+)", " ".join(reasons[1:]))
        ):
            answer["merged_into"] = into.group(1)
        answer["reasons"] = reasons
    elif stored is not None and not live:
        answer["reasons"] = ["no longer sent by the source"]
    elif stored is None:
        answer["reasons"] = [_gone_reason(conn, school, entity, rid) or NEVER_SENT]
    return answer


def _gone_reason(conn: Connection, school: str, entity: str, rid: str) -> str | None:
    """Why a record that left events behind is no longer stored: erased by a forget, or
    purged after the retention period (its events are all that is left)."""
    e = t.events.c
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


def id_matches(column, given: str):
    """Whether a stored ID is `given` as the MIS knows it: the ID itself, the two halves of a
    combined contact, and the links of a pupil or contact (`4821:P9001`)."""
    ids = [given, f"{given}-1", f"{given}-2"]
    return or_(
        column.in_(ids),
        column.startswith(f"{link_part(given)}:", autoescape=True),
        *(column.endswith(f":{link_part(i)}", autoescape=True) for i in ids),
    )


def narrowed(table, entity: str | None, rid: str | None) -> list:
    """`--entity` and `--id` as every listing takes them, over a table with `entity` and `id`
    columns: the conditions to add (none for a filter not given)."""
    where = []
    if entity:
        where.append(table.c.entity == entity)
    if rid:
        where.append(id_matches(table.c.id, rid))
    return where


def _event_filter(run: int, school, entity, op, rid):
    e = t.events.c
    where = [e.run == run, *narrowed(t.events, entity, rid)]
    if school:
        where.append(e.school == school)
    if op:
        where.append(e.op == op)
    return and_(*where)


def plan_events(plan) -> list[dict]:
    """A dry run's plan as `changes --json` shows a run's events (`run` is null)."""
    return [
        {
            "run": None,
            "entity": c.entity,
            "id": c.id,
            "op": c.op,
            "changes": _changes("insert", c.data) if c.op == "insert" else c.changes,
        }
        for c in plan.changes
    ]


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
        "merged": row["merged"],
        "origin": row["origin"],
        "mass_delete_allowed": bool(row["overridden"]),
        "message": row["message"],
    }
