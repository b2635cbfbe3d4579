"""One run: fetch → map → merge → filter → diff → commit, for one school, under its lock.

Each stage takes the previous stage's output; nothing reaches back. Whatever goes wrong, the
run row ends as `failed` or `stopped` with its message, and no record has changed.
"""

from __future__ import annotations

import gc
import itertools
import logging
from collections.abc import Callable
from contextlib import ExitStack, nullcontext
from datetime import datetime
from typing import Any, Literal, NoReturn

import httpx
import pluggy
from sqlalchemy import exc as db_errors

from . import collector, plugins
from .config import Config, School, bind_school, error_at
from .errors import (
    ConfigError,
    MisSyncError,
    NothingStored,
    SafeguardStop,
    SchoolBusy,
    SourceError,
    StoreError,
    StoreUnavailable,
    from_environment,
)
from .schema import link_id, link_pair, reject_unstorable
from .store import Store
from .store.lock import Held

log = logging.getLogger("mis_sync.run")


def local_fields(pm: pluggy.PluginManager) -> dict[str, set[str]]:
    fields: dict[str, set[str]] = {}
    pm.hook.mis_sync_local_fields(register=lambda e, f: fields.setdefault(e, set()).add(f))
    return fields


def school_for(config: Config, key: str, pm: pluggy.PluginManager) -> School:
    return bind_school(config, key, [t for t in pm.hook.mis_sync_options() if t is not None])


def prepare(
    config: Config, key: str, expect: str | None = None
) -> tuple[School, pluggy.PluginManager]:
    """The school's plugin manager (its connector, then every plugin) and its checked config.

    :param expect: the connector the caller asked for (`mis-sync run NAME`), if any.
    """
    connector = config.schools.get(key, {}).get("connector")
    if not isinstance(connector, str):
        bind_school(config, key, [])  # raises, naming the file, the key and the line
        raise ConfigError(f"school {key!r}: connector must be a connector name")
    if expect is not None and connector != expect:
        raise ConfigError(f"school {key!r} uses connector {connector!r}, not {expect!r}")
    pm = plugins.manager(connector)
    return school_for(config, key, pm), pm


# the run's records are freed before the collector comes back, so it finds none of them to walk
@collector.paused()
def run_school(
    store: Store,
    school: School,
    pm: pluggy.PluginManager,
    *,
    transport: httpx.BaseTransport | None = None,
    progress: Callable[[str, int, int | None], None] | None = None,
    dry_run: bool = False,
    allow_mass_delete: bool = False,
    wait: bool = False,
    origin: str = "cli",
) -> dict:
    """Sync one school; returns the run's summary (the `run --json` object).

    Truthful about the commit: an error before it marks the run failed (nothing stored); an
    error or a Ctrl-C after it (an unlock that fails, an interrupt landing as the commit
    returns) leaves the run `ok` and returns what it stored.
    """
    local = local_fields(pm)
    run, committed, summary = None, False, {}
    try:
        with ExitStack() as locks:
            held = None
            try:
                # a dry run writes nothing, not even a lock file: it reads one snapshot
                if not dry_run:
                    try:
                        held = locks.enter_context(store.lock(school.key, wait=wait))
                    except SchoolBusy as exc:  # listed by `runs` as failed, naming the holder
                        exc.run = store.refused_run(school.key, school.connector, origin, str(exc))
                        raise
                refuse_other_connector(store, school)
                run = None if dry_run else store.start_run(school.key, school.connector, origin)
            except (db_errors.TimeoutError, db_errors.OperationalError) as exc:
                # before the run has a row of its own: the caller records one (run_schools);
                # a known set-up fault (a locked database, a full disk) says what to do
                known = from_environment(exc, store.where)
                raise StoreUnavailable(
                    f"school {school.key!r}: no database connection for the run"
                    f" ({known or type(exc).__name__}); nothing was stored"
                ) from None
            try:
                summary = _sync(
                    store,
                    school,
                    pm,
                    run,
                    local=local,
                    held=held,
                    transport=transport,
                    progress=progress or _quiet,
                    allow_mass_delete=allow_mass_delete,
                )
                committed = run is not None
            except BaseException as exc:
                if run is not None:
                    exc.run = run  # the CLI prints the run's object whatever the outcome
                committed = _ended(store, school.key, run, exc)
            if committed:
                purge_after_run(store, school)  # still under the lock, after the commit
    except BaseException as exc:
        if not committed:
            _reraise(exc)
        log.warning("%s: run %s is stored; interrupted after its commit", school.key, run)
    if run is None:
        return {
            "run": None,
            "school": school.key,
            "connector": school.connector,
            "status": "dry-run",
            **summary,
        }
    return store.result(run)


def _sync(
    store: Store,
    school: School,
    pm: pluggy.PluginManager,
    run: int | None,
    *,
    local: dict[str, set[str]],
    held: Held | None,
    transport: httpx.BaseTransport | None,
    progress: Callable[[str, int, int | None], None],
    allow_mass_delete: bool,
) -> dict:
    """fetch → map → check storable → keep last good → merge → filter → diff and commit."""
    raw = pm.hook.mis_sync_fetch(school=school, transport=transport, progress=progress)
    if raw is None:
        raise SourceError(f"connector {school.connector!r} fetched nothing")
    wants_state = _asked_for(pm.hook.mis_sync_map, "source_state")
    dataset = pm.hook.mis_sync_map(
        school=school,
        raw=raw,
        source_state=store.source_state(school.key, school.connector) if wants_state else None,
    )
    del raw  # the wire records: freed before the rules and the diff allocate theirs
    reject_unstorable(dataset)
    keep_last_good(store, school.key, dataset)
    log.info("%s: mapped %s", school.key, _sizes(dataset.records))
    pm.hook.mis_sync_merge(school=school, dataset=dataset)
    pm.hook.mis_sync_filter(school=school, dataset=dataset)
    log.info("%s: kept %s", school.key, _sizes(dataset.records))
    for entity, rid in dataset.repeated_ids:
        log.warning("%s: %s %s sent more than once; the last one counts", school.key, entity, rid)
    for invalid in dataset.invalid:
        log.warning("%s: left out: %s", school.key, invalid.reason)
    for entity, outs in dataset.left_out.items():
        for rid, out in outs.items():  # records are named by ID, never by name
            log.debug("%s: %s %s left out: %s", school.key, entity, rid, out.reasons[0])
    return store.apply(
        run,
        school.key,
        dataset,
        local=local,
        threshold=school.mass_delete_threshold,
        allow_mass_delete=allow_mass_delete,
        held=held,
    )


def refuse_other_connector(store: Store, school: School) -> None:
    """A school whose stored records came from another connector is refused, not wiped.

    Switching a school key to another connector would see none of the old records in the
    new source and delete them all (or be stopped as a mass delete only above a threshold).
    """
    previous = store.connector_of(school.key, stored=True)
    if previous is not None and previous != school.connector:
        raise ConfigError(
            f"school {school.key!r} holds records stored by connector {previous!r}, not"
            f" {school.connector!r}; refusing to replace them. Give the school a new key for"
            " the new connector"
        )


def open_store(url: str, *, dry_run: bool = False, jobs: int = 1) -> Store:
    """The store a run writes to, its pool sized for `jobs` schools at once; a dry run creates
    nothing, and where nothing is stored yet it diffs against an empty picture held in memory."""
    if not dry_run:
        return Store(url, jobs=jobs)
    try:
        return Store(url, create=False, jobs=jobs)
    except NothingStored:
        return Store("sqlite://")


def run_schools(
    store: Store,
    config: Config,
    keys: list[str],
    *,
    connector: str,
    jobs: int = 1,
    progress_for: Callable[[str], Any] | None = None,
    finished: Callable[[dict], None] | None = None,
    **options,
) -> list[dict]:
    """Sync several schools, at most `jobs` at once, each in its own run, lock and transaction.

    One school failing never stops the others: its entry says why, with the exit code it
    would have had alone, so the caller can exit with the worst. `finished(result)` is
    called (from the school's thread) as each school ends. A school that could not get a
    connection to the store before its run began gets its `failed` run row once the other
    schools are done and connections are free again.
    """
    unconnected: list[tuple[str, str]] = []
    ended = itertools.count(1)

    def one(key: str) -> dict:
        result = attempt(key)
        if finished is not None:
            finished(result)  # as each school ends: the terminal shows it at once
        return result

    def attempt(key: str) -> dict:
        try:
            return _one(key)
        finally:
            # The collector is paused while any run works (collector.py), so with runs that
            # overlap it would never run for the whole fleet, and what does form cycles
            # (httpx keeps each response, its body and its connection in one) would pile up:
            # 730 MB after 1,000 schools. A collection every `jobs` schools keeps it to the
            # schools in flight; imported modules are frozen, so it walks only those.
            if next(ended) % max(1, jobs) == 0:
                gc.collect()

    def _one(key: str) -> dict:
        try:
            school, pm = prepare(config, key, expect=connector)
            with progress_for(key) if progress_for else nullcontext() as progress:
                result = run_school(store, school, pm, progress=progress, **options)
            # a dry run that the safeguard would stop exits as the real run would
            stop = result["status"] == "dry-run" and result["message"]
            return {**result, "exit_code": SafeguardStop.exit_code if stop else 0}
        except MisSyncError as exc:
            if isinstance(exc, StoreUnavailable):
                unconnected.append((key, str(exc)))
            return failed_result(store, key, connector, exc)
        except Exception as exc:  # noqa: BLE001 - a bug in one school's run must not stop the rest
            known = from_environment(exc, store.where)
            if known is None:
                log.exception("%s: internal error", key)
            return failed_result(store, key, connector, known or exc)

    from concurrent.futures import ThreadPoolExecutor  # here: a one-school run never needs it

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        try:
            results = list(pool.map(one, keys))
        except KeyboardInterrupt:
            # schools not yet started never start; runs under way end as they would (a thread
            # cannot be stopped), and the caller asks the store which of them were stored
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    by_key = {r["school"]: r for r in results}
    for key, message in unconnected:
        try:
            by_key[key]["run"] = store.refused_run(
                key, connector, options.get("origin", "cli"), message
            )
        except db_errors.SQLAlchemyError:  # the store is gone altogether: stderr still says why
            log.warning("%s: could not record the failed run either", key)
    return results


def purge_school(
    store: Store, school: School, *, now: datetime | None = None, dry_run: bool = False
) -> dict:
    """`mis-sync purge`: the school's retention purge, under its lock (store/lifecycle.py)."""
    with store.lock(school.key):
        return store.purge(school.key, school.retention_days, now=now, dry_run=dry_run)


def forget_person(store: Store, config: Config, key: str, entity: str, rid: str, **options) -> dict:
    """`mis-sync forget`: erase one person from the store, and from the source state their
    school's connector keeps, if it can edit it (hookspecs, mis_sync_forget)."""
    edit = None
    if key in config.schools:
        school, pm = prepare(config, key)

        def edit(data: bytes) -> bytes | None:
            return pm.hook.mis_sync_forget(
                school=school, entity=entity, record_id=rid, source_state=data
            )

    return store.forget(key, entity, rid, edit_state=edit, **options)


def purge_after_run(store: Store, school: School) -> None:
    """Every successful run ends with the retention purge, in a transaction of its own after
    the run's commit and still under its lock: a purge that fails is logged and left for the
    next run, and never fails the sync it follows."""
    try:
        done = store.purge(school.key, school.retention_days)
    except Exception as exc:  # noqa: BLE001 - the run is stored; the purge waits for the next
        log.warning("%s: retention purge failed, left for the next run: %s", school.key, exc)
        return
    if done["records"] or done["events"]:
        log.info(
            "%s: purged %d records and the values of %d events older than %s",
            school.key,
            done["records"],
            done["events"],
            done["before"],
        )


def failed_result(store: Store, key: str, connector: str, exc: BaseException) -> dict:
    """The `run --json` object of a run that did not finish: its `runs` row when it has one
    (failed, stopped, or refused as busy), else the same shape with `"run": null`."""
    run = getattr(exc, "run", None)
    if run is not None:
        row = store.run(run)
    else:
        row = {
            "run": None,
            "school": key,
            "connector": connector,
            "status": "failed",
            "started": None,
            "finished": None,
            **dict.fromkeys(("inserted", "updated", "deleted", "left_out", "merged"), 0),
            "origin": None,
            "mass_delete_allowed": False,
            "message": _message(exc),
        }
    return {
        **row,
        "left_out_by_reason": {},
        "near_duplicates": [],
        "exit_code": getattr(exc, "exit_code", 1),
    }


def keep_last_good(store: Store, school: str, dataset) -> None:
    """A record that failed validation takes its stored copy's place for this run.

    So one bad record changes nothing: not itself, and not the classes, links and contacts
    that would otherwise lose it and ripple into deletes. Records split in two (a combined
    contact, `split_from`) are covered too: see `_split_copies`.
    """
    keys = [(i.entity, i.id) for i in dataset.invalid if i.id]
    if not keys:  # the usual case
        return
    keys += _split_copies(store, school, dataset, keys)
    for entity, record in store.stored_copies(school, keys):
        dataset.records[entity][record.id] = record


def _split_copies(store: Store, school: str, dataset, keys: list[tuple[str, str]]) -> list:
    """The stored records that stand in for a bad record that was stored split in two.

    A contact X stored as halves (split_from X) that fails validation: its halves and their
    links keep their stored copies, and the source's links to the unsplit X (which could only
    be left out) give way to them. A bad link S-X where X is split this run: the stored links
    from S to each half.
    """
    bad_contacts = {rid for entity, rid in keys if entity == "contacts"}
    bad_links = [pair for e, rid in keys if e == "contact-links" and (pair := link_pair(rid))]
    out: list[tuple[str, str]] = []
    if bad_contacts:
        halves = {
            c["id"]: c["split_from"]
            for c in store.export(school, "contacts", {})
            if c["split_from"] in bad_contacts
        }
        out += [("contacts", h) for h in halves]
        out += [
            ("contact-links", link_id(lk["student_id"], lk["contact_id"]))
            for lk in store.export(school, "contact-links", {})
            if lk["contact_id"] in halves
        ]
        split = set(halves.values())
        links = dataset.records["contact-links"]
        for lid in [lid for lid, lk in links.items() if lk.contact_id in split]:
            del links[lid]
    if bad_links:
        halves_of: dict[str, list[str]] = {}
        for c in dataset.records["contacts"].values():
            if c.split_from is not None:
                halves_of.setdefault(c.split_from, []).append(c.id)
        out += [
            ("contact-links", link_id(student, half))
            for student, contact in bad_links
            for half in halves_of.get(contact, ())
        ]
    return out


def _asked_for(hook: pluggy.HookCaller, arg: str) -> bool:
    """Whether an implementation of `hook` takes `arg`: pluggy hands each only what it names,
    so an argument no one takes need not be read (source_state: a query per run)."""
    return any(arg in (*i.argnames, *i.kwargnames) for i in hook.get_hookimpls())


def _sizes(records: dict) -> str:
    return ", ".join(f"{len(v)} {k}" for k, v in records.items())


def _ended(store: Store, school: str, run: int | None, exc: BaseException) -> Literal[True]:
    """A run that raised: mark it failed or stopped and raise again, unless its row shows
    that the commit went through before `exc`; then return True (the run is stored)."""
    log.info("%s: run %s ended: %s", school, run, _message(exc))
    if run is not None:
        stop = isinstance(exc, SafeguardStop)
        try:
            now = store.fail_run(
                run,
                "stopped" if stop else "failed",
                _message(exc),
                would_delete=exc.would_delete if stop else (),
            )
        except db_errors.DBAPIError:  # the database is gone too: the next run marks this one failed
            now = None
        if now == "ok":
            log.warning("%s: run %s is stored; then %s", school, run, _message(exc))
            return True
    raise exc


def _reraise(exc: BaseException) -> NoReturn:
    """Raise `exc` again; a database error as a StoreError that says only its first line,
    never its statement's data, and without the driver's exception chained to it."""
    if isinstance(exc, db_errors.DBAPIError):
        raise StoreError(_message(exc)) from None
    raise exc


def _message(exc: BaseException) -> str:
    if isinstance(exc, MisSyncError):
        return str(exc)
    if isinstance(exc, db_errors.DBAPIError):  # the driver's first line; its detail may quote a row
        first = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else ""
        return f"the database refused the run: {type(exc.orig).__name__}: {first}"
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    return f"internal error: {type(exc).__name__}: {exc}"


def _quiet(resource: str, done: int, total: int | None) -> None:
    pass


def check_config(config: Config) -> None:
    """Decode and check every school's table against its connector's and plugins' options.

    Every command calls this, not only `run`: a typo in any school stops them all with the
    file, key and line, instead of one command reading a config another would refuse.
    """
    managers: dict[str, pluggy.PluginManager] = {}
    for key in sorted(config.schools):
        connector = config.schools[key].get("connector")
        if not isinstance(connector, str):
            bind_school(config, key, [])  # raises, naming the file, the key and the line
        if connector not in managers:
            try:
                managers[connector] = plugins.manager(connector)
            except ConfigError as exc:
                raise error_at(config, ("schools", key, "connector"), str(exc)) from None
        school_for(config, key, managers[connector])
