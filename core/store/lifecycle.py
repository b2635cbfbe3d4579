"""A pupil's data has a lifecycle: the retention purge, erasure (`forget`), the hand-made events.

UK GDPR's storage limitation and right to erasure apply to the product that runs mis-sync,
so the store keeps personal values only while they serve it (docs/data-protection.md):

- a record no longer kept is purged once it has been gone `retention_days` (a school option):
  its row leaves every place that holds it, as with `forget`;
- an event older than that keeps what happened (op, entity, ID, run, which fields) but not
  the values, which become ERASED; so does a run's summary (its near-duplicate pairs);
- `forget` does the same for one person now, and leaves an event saying who erased which ID
  and when, without the data.

`Store` gets these methods by inheriting `Lifecycle`, as it does `Queries`.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, and_, bindparam, delete, func, or_, select, update

from ..errors import ConfigError
from . import stopped
from . import tables as t
from .person import person_keys
from .tables import stamp

ERASED = "(erased)"  # what a personal value becomes in an event: the field name stays
CHUNK = 500  # keys per IN (...)

Keys = list[tuple[str, str]]


def os_user() -> str:
    """Who is at the keyboard, for the audit of hand edits: the OS user running mis-sync."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no user name in the environment or the password database
        return "unknown"


def erase_values(op: str, changes: str) -> str:
    """An event's JSON with every value that is set replaced by ERASED; nulls stay null.

    Inserts hold the record ({field: value}), deletes their reason ({"reason": text}), every
    other op pairs ({field: [old, new]}); a forget holds nothing.
    """
    data = json.loads(changes)
    if op in ("insert", "delete"):
        erased = {k: None if v is None else ERASED for k, v in data.items()}
    else:
        erased = {k: [None if x is None else ERASED for x in pair] for k, pair in data.items()}
    return _json(erased)


def hand_event(
    conn: Connection,
    school: str,
    keys: Keys,
    op: str,
    changes: dict,
    *,
    who: str | None,
    now: datetime | None,
) -> None:
    """Events made by a person, not a run (a local edit, an erasure), with who and when.

    They are listed with the school's latest completed run, the data they were made on.
    """
    runs = t.runs.c
    run = conn.execute(
        select(runs.run)
        .where(runs.school == school)
        .order_by((runs.status == "ok").desc(), runs.run.desc())
        .limit(1)
    ).scalar()
    if run is None:  # nothing was ever stored for the school, so nothing was changed
        return
    conn.execute(
        t.events.insert(),
        [
            {
                "run": run,
                "school": school,
                "entity": entity,
                "id": rid,
                "op": op,
                "changes": _json(changes),
                "who": who or os_user(),
                "at": stamp(now),
            }
            for entity, rid in keys
        ],
    )


# -- the places that hold a record's personal data ----------------------------------------------
# Each takes the keys of records to remove and returns how many rows it deleted. A table that
# holds records' personal data (the duplicates register, say) adds its step here, and both
# `forget` and the retention purge remove records from it. Events are not deleted but erased
# (_erase_events): what happened stays.


def _delete_rows(table) -> Callable[[Connection, str, Keys], int]:
    def step(conn: Connection, school: str, keys: Keys) -> int:
        return sum(
            conn.execute(
                delete(table).where(table.c.school == school, _key_in(table, part))
            ).rowcount
            for part in _chunks(keys)
        )

    return step


def _delete_pairs(conn: Connection, school: str, keys: Keys) -> int:
    """The near-duplicate register holds both contacts of a pair: a pair goes with either."""
    ids = sorted(rid for entity, rid in keys if entity == "contacts")
    d = t.near_duplicates.c
    return sum(
        conn.execute(
            delete(t.near_duplicates).where(d.school == school, or_(d.a.in_(part), d.b.in_(part)))
        ).rowcount
        for part in _chunks(ids)
    )


PLACES: dict[str, Callable[[Connection, str, Keys], int]] = {
    "records": _delete_rows(t.records),
    "local fields": _delete_rows(t.local_fields),
    "left out": _delete_rows(t.left_out),
    "near duplicates": _delete_pairs,
    "would-be deletes of stopped runs": _delete_rows(t.stopped_deletes),
}


def _erase_events(conn: Connection, school: str, keys: Keys, after_run: int = 0) -> int:
    """Erase the values of the events about `keys`, of runs after `after_run`.

    Events have no index by record (it would slow every run's writes), so this reads the
    school's events of those runs: a forget reads them all, a purge only those it has not
    erased already by run.
    """
    e = t.events.c
    changed = []
    for part in _chunks(keys):
        rows = conn.execute(
            select(e.event, e.op, e.changes).where(
                e.run > after_run, e.school == school, _key_in(t.events, part)
            )
        )
        changed += _erased(rows)
    _update_changes(conn, changed)
    return len(changed)


class Lifecycle:
    engine = None  # set by Store

    def purge(
        self,
        school: str,
        retention_days: int,
        *,
        now: datetime | None = None,
        dry_run: bool = False,
    ) -> dict:
        """Remove what has been kept longer than `retention_days`, in one transaction.

        Call it under the school's lock (pipeline.purge_school, or a run's end). Runs of a
        school never overlap, so "older than the cutoff" is "a run up to `through_run`";
        what the last purge did up to its own `through_run` is not looked at again.
        """
        cutoff = stamp((now or datetime.now(UTC)) - timedelta(days=retention_days))
        result = {"school": school, "before": cutoff, "through_run": None, "dry_run": dry_run}
        result.update(
            dict.fromkeys(("records", "events", "summaries", "left_out", "would_delete"), 0)
        )
        r, p = t.runs.c, t.purges.c
        with self.engine.begin() as conn:
            # one round trip: after a run, this is usually all a purge does
            last_purge = select(p.through_run).where(p.school == school).scalar_subquery()
            through, done = conn.execute(
                select(func.max(r.run), last_purge).where(r.school == school, r.started < cutoff)
            ).one()
            done = done or 0
            if through is None or through <= done:
                return {**result, "through_run": done or None}
            result["through_run"] = through
            gone = self._gone(conn, school, through)
            for step in PLACES.values():
                step(conn, school, gone)
            result["records"] = len(gone)
            result["events"] = self._erase_old_events(conn, school, done, through)
            # a hand edit made on a record after it left (a room set on a deleted teacher)
            result["events"] += _erase_events(conn, school, gone, after_run=through)
            result["summaries"] = conn.execute(
                update(t.runs)
                .where(r.school == school, r.run > done, r.run <= through, r.summary.is_not(None))
                .values(summary=None)
            ).rowcount
            # a stopped run's keys are kept as long as its run, not as long as the records
            result["would_delete"] = stopped.purge_through(conn, school, through)
            latest_ok = conn.execute(
                select(func.max(r.run)).where(r.school == school, r.status == "ok")
            ).scalar()
            if latest_ok is not None and latest_ok <= through:  # no run has refreshed them
                result["left_out"] = conn.execute(
                    delete(t.left_out).where(t.left_out.c.school == school)
                ).rowcount
            conn.execute(delete(t.purges).where(p.school == school))
            conn.execute(t.purges.insert().values(school=school, through_run=through, at=stamp()))
            if dry_run:
                conn.rollback()
        return result

    def forget(
        self,
        school: str,
        entity: str,
        rid: str,
        *,
        who: str | None = None,
        now: datetime | None = None,
        edit_state: Callable[[bytes], bytes | None] | None = None,
    ) -> dict:
        """Erase one person's data everywhere in the store now, and record the erasure.

        A pupil's or contact's links go with them. The school's source state (a connector's
        own copy of its source) is handed to `edit_state` (pipeline.forget_person asks the
        connector); when that gives nothing back it is dropped, and a connector that keeps
        one rebuilds it from its next full export. Raises ConfigError (exit 2) when nothing
        is stored about them.
        """
        with self.lock(school), self.engine.begin() as conn:
            keys = person_keys(conn, school, entity, rid)
            removed = {name: step(conn, school, keys) for name, step in PLACES.items()}
            removed["events"] = _erase_events(conn, school, keys)
            if not any(removed.values()):
                raise ConfigError(f"school {school!r}: nothing is stored about {entity} {rid!r}")
            state = self._edit_state(conn, school, edit_state)
            hand_event(conn, school, keys, "forget", {}, who=who, now=now)
        done = {"school": school, "entity": entity, "id": rid, "keys": keys, "removed": removed}
        return {**done, "source_state": state}

    def _edit_state(self, conn: Connection, school: str, edit) -> str | None:
        """`edited`, `dropped`, or None when the school has no source state."""
        s = t.source_state.c
        data = conn.execute(select(s.data).where(s.school == school)).scalar()
        if data is None:
            return None
        kept = edit(data) if edit else None
        if kept is None:
            conn.execute(delete(t.source_state).where(s.school == school))
            return "dropped"
        conn.execute(update(t.source_state).where(s.school == school).values(data=kept))
        return "edited"

    def _gone(self, conn: Connection, school: str, through: int) -> Keys:
        """Records soft-deleted by a run up to `through`: a deleted row keeps its delete's run."""
        c = t.records.c
        rows = conn.execute(
            select(c.entity, c.id).where(c.school == school, c.deleted.is_(True), c.run <= through)
        )
        return [tuple(row) for row in rows]

    def _erase_old_events(self, conn: Connection, school: str, after: int, through: int) -> int:
        e = t.events.c
        rows = conn.execute(
            select(e.event, e.op, e.changes).where(
                e.school == school, e.run > after, e.run <= through
            )
        )
        changed = _erased(rows)
        _update_changes(conn, changed)
        return len(changed)


def _json(value) -> str:
    """Compact, as msgspec writes a run's events: an event erased before reads as unchanged."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _erased(rows) -> list[dict]:
    out = []
    for event, op, changes in rows:
        erased = erase_values(op, changes)
        if erased != changes:
            out.append({"k_event": event, "changes": erased})
    return out


def _update_changes(conn: Connection, changed: list[dict]) -> None:
    if changed:
        conn.execute(
            update(t.events)
            .where(t.events.c.event == bindparam("k_event"))
            .values(changes=bindparam("changes")),
            changed,
        )


def _key_in(table, keys: Keys):
    """(entity, id) in keys, as `entity = e AND id IN (...)` per entity: PostgreSQL reads
    that through the primary key, where a row-value IN of 500 pairs scanned the table."""
    ids: dict[str, list[str]] = {}
    for entity, rid in keys:
        ids.setdefault(entity, []).append(rid)
    return or_(*(and_(table.c.entity == e, table.c.id.in_(i)) for e, i in sorted(ids.items())))


def _chunks(keys: Keys):
    for start in range(0, len(keys), CHUNK):
        yield keys[start : start + CHUNK]
