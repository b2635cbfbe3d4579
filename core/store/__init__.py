"""Persistence: the stored records of every school, their change events, runs and local fields.

SQLAlchemy Core, not the ORM: bulk paths are executemany, and one transaction holds every
write of a run, so a failed or killed run leaves the previous state exactly as it was.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import msgspec
from sqlalchemy import Connection, and_, bindparam, create_engine, delete, event, select, update
from sqlalchemy.engine import URL, make_url

from ..errors import ConfigError, EnvironmentProblem, NothingStored, SafeguardStop
from ..rules import MERGED
from ..schema import ENTITIES, Dataset, storable_text
from . import duplicates, migrate
from . import tables as t
from .diff import Plan, classify, field_changes, mark_restores, stored_fields
from .duplicates import Duplicates
from .lifecycle import Lifecycle, hand_event
from .lock import Held, school_lock
from .overview import Overview
from .queries import Queries, plan_events
from .tables import record_row as _is

CHUNK = 500  # rows per IN (...) when reading old JSON back
WRITERS = 4  # connections beyond one per running school's lock, for reads and writes
POOL_WAIT = 300.0  # seconds a school waits for one of them: others' writes take under a second


class Store(Lifecycle, Queries, Duplicates, Overview):
    """The writes of a run (and of local fields); what people look at is in queries.py (and
    the dashboard's overviews in overview.py), the retention purge and erasure in
    lifecycle.py, the near-duplicate register in duplicates.py."""

    def __init__(self, url: str, *, create: bool = True, jobs: int = 1) -> None:
        """Open the database at `url`; with `create`, make its tables if it has none.

        A command that only reads passes create=False: then a missing SQLite file or a
        database without the store's tables is an error (exit 2), and nothing is created.
        Every failure to reach it is one line with the URL's password masked.

        `jobs`: how many schools may run at once through this store (`--jobs`). Each running
        school holds one connection for its lock (PostgreSQL) and, now and then, one more for
        a read or its write. The pool holds `jobs` + WRITERS and never more (no overflow): the
        server sees a bounded number of connections whatever the schools do, and a school
        waits (up to POOL_WAIT) for one rather than failing.
        """
        # school → the run this Store last started for it: after a Ctrl-C, whichever line of
        # code it landed on, the caller can ask the runs table whether that run was stored
        self.started: dict[str, int] = {}
        parsed = database_url(url)
        self.where = parsed.render_as_string(hide_password=True)
        backend = parsed.get_backend_name()
        # pre-ping: a pooled connection the server closed (a restart, idle_session_timeout)
        # is replaced, not handed to a run (hidden parameters: see create_engine below)
        kwargs = {"pool_pre_ping": True}
        if backend == "postgresql" and "connect_timeout" not in parsed.query:
            # a server that never answers is a one-line error after 10 s, not a hang
            kwargs["connect_args"] = {"connect_timeout": 10}
        if backend == "sqlite":
            kwargs["connect_args"] = {"timeout": 60}
            path = parsed.database or ""
            if path and path != ":memory:" and not path.startswith("file:"):
                _check_sqlite_path(self.where, path, create)
        if parsed.database not in (None, "", ":memory:"):  # in memory: one connection anyway
            kwargs |= dict(pool_size=self.pool_size(jobs), max_overflow=0, pool_timeout=POOL_WAIT)
        try:
            # errors name the statement, never its parameters: those hold pupils' data
            self.engine = create_engine(parsed, hide_parameters=True, **kwargs)
        except ModuleNotFoundError as exc:
            raise _missing_driver(parsed, exc) from None
        if backend == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            migrate.ensure(self.engine, may_create=create, where=self.where)
        except Exception as exc:
            from ..errors import from_environment

            known = from_environment(exc, self.where)
            self.engine.dispose()
            if known is None:
                raise
            raise known from None

    @staticmethod
    def pool_size(jobs: int) -> int:
        return jobs + WRITERS

    def close(self) -> None:
        self.engine.dispose()

    # -- runs -------------------------------------------------------------------------------

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

    def fail_run(self, run: int, status: str, message: str) -> str:
        """Mark a run failed or stopped, unless it committed; return its status now.

        A run whose commit went through is `ok` for good: an error or a Ctrl-C that lands
        after the commit must not rewrite it (its changes would hide from `changes`). A run
        that a later run already marked failed (it lost its lock) gets its own message.
        """
        with self.engine.begin() as conn:
            conn.execute(
                update(t.runs)
                .where(t.runs.c.run == run, t.runs.c.status.in_(("running", "failed")))
                .values(status=status, finished=t.stamp(), message=storable_text(message))
            )
            return conn.execute(select(t.runs.c.status).where(t.runs.c.run == run)).scalar()

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
                    raise SafeguardStop(f"stopped before writing: {stop}")
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

    def set_local(
        self,
        school: str,
        entity: str,
        rid: str,
        field: str,
        value: str | None,
        *,
        who: str | None = None,
        now: datetime | None = None,
    ) -> None:
        """Set a school-owned field of a stored record, or clear it (value None).

        A change is audited as a `local` event with who (the OS user unless given: the
        dashboard passes its user), when, and the old and new value. A record that is not
        stored is refused, saying why: left out (and for what reason), no longer sent, or
        never sent.
        """
        with self.engine.begin() as conn:
            known = conn.execute(
                select(t.records.c.id).where(
                    _is(t.records, school, entity, rid), t.records.c.deleted.is_(False)
                )
            ).first()
            if known is None:
                raise ConfigError(self._not_settable(school, entity, rid))
            mine = and_(_is(t.local_fields, school, entity, rid), t.local_fields.c.field == field)
            old = conn.execute(select(t.local_fields.c.value).where(mine)).scalar()
            if old != value:
                changes = {field: [old, value]}
                hand_event(conn, school, [(entity, rid)], "local", changes, who=who, now=now)
            conn.execute(delete(t.local_fields).where(mine))
            if value is not None:
                conn.execute(
                    t.local_fields.insert().values(
                        school=school, entity=entity, id=rid, field=field, value=value
                    )
                )

    def _not_settable(self, school: str, entity: str, rid: str) -> str:
        reasons = self.explain(school, entity, rid)["reasons"]
        what = f"school {school!r}: {entity.removesuffix('s')} {rid}"
        if reasons[0] == "never sent by the source":
            return f"{what} is not stored: the MIS has never sent it (check the ID)"
        if reasons[0].startswith("no longer sent by the source"):
            return f"{what} is no longer sent by the MIS, so it is not stored"
        if reasons[0].startswith("forgotten"):
            return f"{what} is not stored: {reasons[0]}"
        return f"{what} is sent by the MIS but left out: {'; '.join(reasons)}"


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


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    """WAL lets readers (runs, export) go on while a run writes; the lock serialises writers."""
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


SUPPORTED = ("sqlite", "postgresql")


def database_url(url: str) -> URL:
    """The config's `database` as SQLAlchemy's URL: `postgres://` and `postgresql://` mean
    PostgreSQL through psycopg 3, as most tools take them; other backends are refused."""
    try:
        parsed = make_url(url)
    except Exception:
        raise ConfigError(
            "database: not a database URL (sqlite:///path or postgresql://user@host/db)"
        ) from None
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED:
        shown = parsed.render_as_string(hide_password=True)
        raise ConfigError(
            f"database {shown}: {backend} is not supported; use SQLite (sqlite:///path)"
            " or PostgreSQL (postgresql://user@host/db)"
        )
    return parsed


def _missing_driver(parsed: URL, exc: ModuleNotFoundError) -> EnvironmentProblem:
    shown = parsed.render_as_string(hide_password=True)
    hint = (
        "pip install 'mis-sync[postgres]'"
        if exc.name == "psycopg"
        else "install it, or use postgresql:// with pip install 'mis-sync[postgres]'"
    )
    return EnvironmentProblem(f"database {shown}: driver {exc.name} is not installed; {hint}")


def _check_sqlite_path(where: str, path: str, create: bool) -> None:
    """SQLite would create a missing file (and fail obscurely in a missing folder)."""
    from pathlib import Path

    file = Path(path)
    if not create and not file.is_file():
        raise NothingStored(
            f"database {where}: no such file, so nothing has been synced there yet"
            " (run `mis-sync run CONNECTOR` first, or check `database`)"
        )
    if create and not file.parent.is_dir():
        raise EnvironmentProblem(f"database {where}: the folder {file.parent} does not exist")
