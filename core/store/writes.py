"""The write path of a run: start it, plan it (the diff), stop it at the mass-delete
safeguard, and commit it in one transaction under the school's lock.

`Store` gets these methods by inheriting `Writes`, as it does `Queries`. A failed or killed
run leaves the previous state exactly as it was: every write of a run is in one transaction.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import msgspec
from sqlalchemy import Connection, and_, bindparam, delete, select, update

from ..errors import SafeguardStop
from ..rules import MERGED
from ..schema import ENTITIES, Dataset, storable_text
from . import duplicates, stopped
from . import tables as t
from .diff import Plan, classify, field_changes, mark_restores, stored_fields
from .lock import Held, school_lock
from .queries import plan_events

CHUNK = 500  # rows per IN (...) when reading old JSON back


class Writes:
    """A run's rows: its `runs` row from start to finish, and the records, events, left-out
    reasons and source state it commits."""

    @contextmanager
    def lock(self, school: str, *, wait: bool = False) -> Iterator[Held]:
        """Hold the school's lock; pass what it yields to `apply`, which checks it is still
        held just before it commits."""
        with school_lock(self.engine, school, wait=wait, busy=lambda: self._busy(school)) as held:
            yield held

    def _busy(self, school: str) -> str:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(t.runs.c.run, t.runs.c.started)
                .where(t.runs.c.school == school, t.runs.c.status == "running")
                .order_by(t.runs.c.run.desc())
            ).first()
        since = f"run {row.run}, started {row.started}" if row else "starting"
        return f"school {school!r}: another run holds it ({since}); try later or pass --wait"

    def start_run(self, school: str, connector: str, origin: str = "cli") -> int:
        """Record the run as running, committed at once so that it is visible while it works.

        Called under the school's lock, so any other `running` row for the school is a run
        that died without finishing: it is marked failed here.
        """
        with self.engine.begin() as conn:
            conn.execute(
                update(t.runs)
                .where(t.runs.c.school == school, t.runs.c.status == "running")
                .values(status="failed", finished=t.stamp(), message="interrupted: the run died")
            )
            run = conn.execute(
                t.runs.insert().values(
                    school=school,
                    connector=connector,
                    status="running",
                    started=t.stamp(),
                    origin=origin,
                )
            ).inserted_primary_key[0]
        self.started[school] = run
        return run

    def refused_run(self, school: str, connector: str, origin: str, message: str) -> int:
        """A run refused because another holds the school: listed as failed, with the message
        naming the holder. Written without the lock, and touching no other run's row."""
        with self.engine.begin() as conn:
            at = t.stamp()
            return conn.execute(
                t.runs.insert().values(
                    school=school,
                    connector=connector,
                    status="failed",
                    started=at,
                    finished=at,
                    origin=origin,
                    message=message,
                )
            ).inserted_primary_key[0]

    def fail_run(self, run: int, status: str, message: str, would_delete=()) -> str:
        """Mark a run failed or stopped, unless it committed; return its status now.

        A run whose commit went through is `ok` for good: an error or a Ctrl-C that lands
        after the commit must not rewrite it (its changes would hide from `changes`). A run
        that a later run already marked failed (it lost its lock) gets its own message.
        A stopped run keeps the keys it `would_delete` in the same transaction (stopped.py).
        """
        with self.engine.begin() as conn:
            conn.execute(
                update(t.runs)
                .where(t.runs.c.run == run, t.runs.c.status.in_(("running", "failed")))
                .values(status=status, finished=t.stamp(), message=storable_text(message))
            )
            now = conn.execute(select(t.runs.c.status).where(t.runs.c.run == run)).scalar()
            if now == "stopped":
                stopped.record(conn, run, would_delete)
            return now

    def apply(
        self,
        run: int | None,
        school: str,
        dataset: Dataset,
        *,
        local: dict[str, set[str]],
        threshold: float,
        allow_mass_delete: bool = False,
        held: Held | None = None,
    ) -> dict:
        """Diff and write one run in one transaction; with run=None, diff only (dry run).

        :param held: the school's lock (`lock`): the transaction waits for any other writer
            of the school first, and commits only if the lock is still held at the end.
        """
        fields = stored_fields(local)
        with self.engine.begin() as conn:
            if held is not None and run is not None:
                held.enter(conn)
            plan = classify(
                dataset,
                self._stored(conn, school),
                self._stored_left_out(conn, school),
                fields,
            )
            if any(c.op == "insert" for c in plan.changes):  # none on an unchanged re-run
                mark_restores(plan, self._soft_deleted(conn, school))
            over = _mass_delete(plan, threshold)
            stop = None
            if over and not allow_mass_delete:
                stop = (
                    "this run would delete "
                    + ", ".join(over)
                    + f" (more than {threshold:.0%} of what is stored); if the source is"
                    " right, run again with --allow-mass-delete"
                )
                if run is not None:
                    halt = SafeguardStop(f"stopped before writing: {stop}")
                    halt.would_delete = tuple(
                        (c.entity, c.id) for c in plan.changes if c.op == "delete"
                    )
                    raise halt
                stop = f"a real run would stop before writing: {stop}"
            self._fill_field_changes(conn, school, plan)
            summary = _summary(plan, dataset)
            if run is None:  # a dry run: the plan, and whether the safeguard would stop it
                conn.rollback()
                return {**summary, "message": stop, "changes": plan_events(plan)}
            self._write(conn, run, school, plan)
            duplicates.record(conn, run, school, t.stamp(), dataset)
            if dataset.source_state is not None:
                self._put_source_state(conn, run, school, dataset.source_state)
            message = f"mass delete allowed: {', '.join(over)}" if over else None
            conn.execute(
                update(t.runs)
                .where(t.runs.c.run == run)
                .values(
                    status="ok",
                    finished=t.stamp(),
                    inserted=summary["inserted"],
                    updated=summary["updated"],
                    deleted=summary["deleted"],
                    left_out=summary["left_out"],
                    merged=summary["merged"],
                    overridden=bool(over),
                    message=message,
                    summary=json.dumps(
                        {
                            **{k: summary[k] for k in ("left_out_by_reason", "near_duplicates")},
                            # kept per entity, for the dashboard's charts (store/overview.py)
                            "kept": {e: len(r) for e, r in dataset.records.items()},
                        }
                    ),
                )
            )
            if held is not None:
                held.check(conn)  # the last statement before the commit
        return summary

    def result(self, run: int) -> dict:
        """A finished run's `run --json` object: its `runs` row and what its summary holds."""
        with self.engine.connect() as conn:
            saved = conn.execute(select(t.runs.c.summary).where(t.runs.c.run == run)).scalar()
        kept = json.loads(saved) if saved else {}
        return {
            **self.run(run),
            "left_out_by_reason": kept.get("left_out_by_reason", {}),
            "near_duplicates": kept.get("near_duplicates", []),
        }

    def _put_source_state(self, conn: Connection, run: int, school: str, data: bytes) -> None:
        """In the run's own transaction: a delta stored without its records, or records
        without their delta, would make the next delta apply to the wrong picture."""
        connector = conn.execute(select(t.runs.c.connector).where(t.runs.c.run == run)).scalar()
        conn.execute(delete(t.source_state).where(t.source_state.c.school == school))
        conn.execute(
            t.source_state.insert().values(school=school, connector=connector, data=data, run=run)
        )

    def source_state(self, school: str, connector: str) -> bytes | None:
        """What the school's last successful run of `connector` kept as its source state."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(t.source_state.c.data).where(
                    t.source_state.c.school == school, t.source_state.c.connector == connector
                )
            ).scalar()

    def _stored(self, conn: Connection, school: str) -> dict[str, dict[str, str]]:
        """Per entity, the hash of every live record by ID."""
        r = t.records.c
        live = _fetch_each(
            conn,
            select(r.id, r.hash).where(
                r.school == school, r.entity == bindparam("entity"), r.deleted.is_(False)
            ),
            [{"entity": entity} for entity in ENTITIES],
        )
        return {entity: dict(rows) for entity, rows in zip(ENTITIES, live, strict=True)}

    def _soft_deleted(self, conn: Connection, school: str) -> set[tuple[str, str]]:
        r = t.records.c
        [rows] = _fetch_each(
            conn, select(r.entity, r.id).where(r.school == school, r.deleted.is_(True)), [{}]
        )
        return set(rows)

    def _stored_left_out(self, conn: Connection, school: str) -> dict[tuple[str, str], bytes]:
        rows = conn.execute(
            select(t.left_out.c.entity, t.left_out.c.id, t.left_out.c.reasons).where(
                t.left_out.c.school == school
            )
        )
        return {(e, i): r.encode() for e, i, r in rows}

    def _fill_field_changes(self, conn: Connection, school: str, plan: Plan) -> None:
        """Read old JSON only for rows that changed, and put [old, new] per changed field."""
        wanted = {(c.entity, c.id) for c in plan.changes if c.op in ("update", "restore")}
        old = {}
        by_entity: dict[str, list[str]] = {}
        for entity, rid in wanted:
            by_entity.setdefault(entity, []).append(rid)
        for entity, ids in by_entity.items():
            for start in range(0, len(ids), CHUNK):
                rows = conn.execute(
                    select(t.records.c.id, t.records.c.data).where(
                        t.records.c.school == school,
                        t.records.c.entity == entity,
                        t.records.c.id.in_(ids[start : start + CHUNK]),
                    )
                )
                old.update({(entity, i): d for i, d in rows})
        for c in plan.changes:
            if c.op in ("update", "restore"):
                c.changes = field_changes(old.get((c.entity, c.id)), c.data)

    def _write(self, conn: Connection, run: int, school: str, plan: Plan) -> None:
        fresh, changed, gone, history = [], [], [], []
        for c in plan.changes:
            data = c.data.decode() if c.data is not None else None
            if c.op == "insert":
                fresh.append((school, c.entity, c.id, data, c.hash, False, run))
            elif c.op == "delete":
                gone.append({"k_school": school, "k_entity": c.entity, "k_id": c.id})
            else:
                changed.append(
                    {
                        "k_school": school,
                        "k_entity": c.entity,
                        "k_id": c.id,
                        "data": data,
                        "hash": c.hash,
                    }
                )
            # an insert's event keeps the new record as it is: no second encoding
            changes = data if c.op == "insert" else _text(c.changes)
            history.append((run, school, c.entity, c.id, c.op, changes))
        _insert_many(conn, t.records, RECORD_COLUMNS, fresh)
        if changed:
            conn.execute(
                update(t.records)
                .where(_key(t.records))
                .values(data=bindparam("data"), hash=bindparam("hash"), deleted=False, run=run),
                changed,
            )
        if gone:
            conn.execute(
                update(t.records).where(_key(t.records)).values(deleted=True, run=run), gone
            )
        _insert_many(conn, t.events, EVENT_COLUMNS, history)
        if plan.left_out_drop or plan.left_out_put:
            keys = [
                {"k_school": school, "k_entity": e, "k_id": i}
                for e, i in [*plan.left_out_drop, *plan.left_out_put]
            ]
            conn.execute(delete(t.left_out).where(_key(t.left_out)), keys)
        if plan.left_out_put:
            conn.execute(
                t.left_out.insert(),
                [
                    {"school": school, "entity": e, "id": i, "reasons": r.decode()}
                    for (e, i), r in plan.left_out_put.items()
                ],
            )


def _text(value) -> str:
    return msgspec.json.encode(value).decode()


RECORD_COLUMNS = ("school", "entity", "id", "data", "hash", "deleted", "run")
EVENT_COLUMNS = ("run", "school", "entity", "id", "op", "changes")


def _fetch_each(conn: Connection, query, param_sets: list[dict]) -> list[list[tuple]]:
    """Run one query once per parameter set, compiled once, rows as the driver's tuples.

    The stored hashes of a large school are tens of thousands of rows: Core's Row objects
    would cost more than the query, and a fresh process pays for every statement it compiles.
    """
    compiled = query.compile(dialect=conn.dialect)
    sql = str(compiled)
    cursor = conn.connection.cursor()
    try:
        out = []
        for given in param_sets:
            params = {**compiled.params, **given}
            if compiled.positional:
                params = tuple(params[name] for name in compiled.positiontup)
            cursor.execute(sql, params)
            out.append(cursor.fetchall())
        return out
    finally:
        cursor.close()


def _insert_many(conn: Connection, table, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Bulk insert: COPY on PostgreSQL, the driver's executemany elsewhere.

    psycopg's executemany still sends one INSERT per row (a round trip each, pipelined);
    COPY streams every row in one statement, which made an initial sync cost 2.8x SQLite's.
    On SQLite, SQLAlchemy compiles the statement once for the dialect and the rows go as
    plain tuples, which skips Core's per-row parameter processing (about half the cost of
    an initial sync).
    """
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        quote = conn.dialect.identifier_preparer
        names = ", ".join(quote.quote(c) for c in columns)
        sql = f"COPY {quote.format_table(table)} ({names}) FROM STDIN"
        with conn.connection.cursor() as cursor, cursor.copy(sql) as copy:  # the run's transaction
            for row in rows:
                copy.write_row(row)
        return
    compiled = table.insert().compile(dialect=conn.dialect, column_keys=list(columns))
    if compiled.positional:
        order = [columns.index(name) for name in compiled.positiontup]
        params = (
            rows
            if order == list(range(len(columns)))
            else [tuple(r[i] for i in order) for r in rows]
        )
    else:
        params = [dict(zip(columns, r, strict=True)) for r in rows]
    conn.exec_driver_sql(str(compiled), params)


def _key(table):
    return and_(
        table.c.school == bindparam("k_school"),
        table.c.entity == bindparam("k_entity"),
        table.c.id == bindparam("k_id"),
    )


def _mass_delete(plan: Plan, threshold: float) -> list[str]:
    return [
        f"{n} of {plan.live[entity]} {entity}"
        for entity, n in sorted(plan.deletes.items())
        if n >= 10 and n > threshold * plan.live[entity]
    ]


def _summary(plan: Plan, dataset: Dataset) -> dict:
    """Counts for `runs` and `run --json`; merged duplicates are counted apart from left out:
    their data is kept, under the ID they were merged into."""
    merged = 0
    by_reason: Counter = Counter()
    for entity, outs in dataset.left_out.items():
        for out in outs.values():
            if out.reasons[0] == MERGED:
                merged += 1
            else:
                by_reason[f"{entity}: {out.reasons[0]}"] += 1
    by_reason.update(f"{i.entity}: failed validation" for i in dataset.invalid if not i.id)
    return {
        **plan.counts(),
        "left_out": sum(by_reason.values()),
        "merged": merged,
        "left_out_by_reason": dict(sorted(by_reason.items())),
        "near_duplicates": [list(p) for p in dataset.near_duplicates],
    }
