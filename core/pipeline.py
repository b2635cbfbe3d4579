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
from typing import Any

import httpx
import pluggy
from sqlalchemy import exc as db_errors

from . import collector, plugins
from .config import Config, School, bind_school
from .errors import (
    ConfigError,
    MisSyncError,
    SafeguardStop,
    SchoolBusy,
    SourceError,
    StoreUnavailable,
)
from .store import Store

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
    """Sync one school; returns the run's summary (the `run --json` object)."""
    local = local_fields(pm)
    with ExitStack() as held:
        try:
            held.enter_context(store.lock(school.key, wait=wait))
            run = None if dry_run else store.start_run(school.key, school.connector, origin)
        except (db_errors.TimeoutError, db_errors.OperationalError) as exc:
            # before the run has a row of its own: the caller records one (run_schools)
            raise StoreUnavailable(
                f"school {school.key!r}: no database connection for the run"
                f" ({type(exc).__name__}); nothing was stored"
            ) from None
        try:
            raw = pm.hook.mis_sync_fetch(
                school=school, transport=transport, progress=progress or _quiet
            )
            if raw is None:
                raise SourceError(f"connector {school.connector!r} fetched nothing")
            wants_state = _asked_for(pm.hook.mis_sync_map, "source_state")
            dataset = pm.hook.mis_sync_map(
                school=school,
                raw=raw,
                source_state=store.source_state(school.key, school.connector)
                if wants_state
                else None,
            )
            del raw  # the wire records: freed before the rules and the diff allocate theirs
            keep_last_good(store, school.key, dataset)
            log.info("%s: mapped %s", school.key, _sizes(dataset.records))
            pm.hook.mis_sync_merge(school=school, dataset=dataset)
            pm.hook.mis_sync_filter(school=school, dataset=dataset)
            log.info("%s: kept %s", school.key, _sizes(dataset.records))
            for entity, rid in dataset.repeated_ids:
                log.warning(
                    "%s: %s %s sent more than once; the last one counts", school.key, entity, rid
                )
            for invalid in dataset.invalid:
                log.warning("%s: left out: %s", school.key, invalid.reason)
            for entity, outs in dataset.left_out.items():
                for rid, out in outs.items():  # records are named by ID, never by name
                    log.debug("%s: %s %s left out: %s", school.key, entity, rid, out.reasons[0])
            summary = store.apply(
                run,
                school.key,
                dataset,
                local=local,
                threshold=school.mass_delete_threshold,
                allow_mass_delete=allow_mass_delete,
            )
        except BaseException as exc:
            if run is not None:
                status = "stopped" if isinstance(exc, SafeguardStop) else "failed"
                store.fail_run(run, status, _message(exc))
            log.info("%s: run %s ended: %s", school.key, run, _message(exc))
            raise
    if run is None:
        return {
            "run": None,
            "school": school.key,
            "connector": school.connector,
            "status": "dry-run",
            **summary,
        }
    return {**store.run(run), **{k: summary[k] for k in ("left_out_by_reason", "near_duplicates")}}


def run_schools(
    store: Store,
    config: Config,
    keys: list[str],
    *,
    connector: str,
    jobs: int = 1,
    progress_for: Callable[[str], Any] | None = None,
    **options,
) -> list[dict]:
    """Sync several schools, at most `jobs` at once, each in its own run, lock and transaction.

    One school failing never stops the others: its entry says why, with the exit code it
    would have had alone, so the caller can exit with the worst. A school that could not get
    a connection to the store before its run began gets its `failed` run row once the other
    schools are done and connections are free again.
    """
    unconnected: list[tuple[str, str]] = []
    finished = itertools.count(1)

    def one(key: str) -> dict:
        try:
            return _one(key)
        finally:
            # The collector is paused while any run works (collector.py), so with runs that
            # overlap it would never run for the whole fleet, and what does form cycles
            # (httpx keeps each response, its body and its connection in one) would pile up:
            # 730 MB after 1,000 schools. A collection every `jobs` schools keeps it to the
            # schools in flight; imported modules are frozen, so it walks only those.
            if next(finished) % max(1, jobs) == 0:
                gc.collect()

    def _one(key: str) -> dict:
        try:
            school, pm = prepare(config, key, expect=connector)
            with progress_for(key) if progress_for else nullcontext() as progress:
                return {
                    **run_school(store, school, pm, progress=progress, **options),
                    "exit_code": 0,
                }
        except MisSyncError as exc:
            if isinstance(exc, StoreUnavailable):
                unconnected.append((key, str(exc)))
            status = {SafeguardStop: "stopped", SchoolBusy: "busy"}.get(type(exc), "failed")
            return {
                "school": key,
                "status": status,
                "message": str(exc),
                "exit_code": exc.exit_code,
            }
        except Exception as exc:  # noqa: BLE001 - a bug in one school's run must not stop the rest
            log.exception("%s: internal error", key)
            return {"school": key, "status": "failed", "message": _message(exc), "exit_code": 1}

    from concurrent.futures import ThreadPoolExecutor  # here: a one-school run never needs it

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = list(pool.map(one, keys))
    for key, message in unconnected:
        try:
            store.record_failed_run(key, connector, options.get("origin", "cli"), message)
        except db_errors.SQLAlchemyError:  # the store is gone altogether: stderr still says why
            log.warning("%s: could not record the failed run either", key)
    return results


def keep_last_good(store: Store, school: str, dataset) -> None:
    """A record that failed validation takes its stored copy's place for this run.

    So one bad record changes nothing: not itself, and not the classes, links and contacts
    that would otherwise lose it and ripple into deletes.
    """
    keys = [(i.entity, i.id) for i in dataset.invalid if i.id]
    for entity, record in store.stored_copies(school, keys):
        dataset.records[entity][record.id] = record


def _asked_for(hook: pluggy.HookCaller, arg: str) -> bool:
    """Whether an implementation of `hook` takes `arg`: pluggy hands each only what it names,
    so an argument no one takes need not be read (source_state: a query per run)."""
    return any(arg in (*i.argnames, *i.kwargnames) for i in hook.get_hookimpls())


def _sizes(records: dict) -> str:
    return ", ".join(f"{len(v)} {k}" for k, v in records.items())


def _message(exc: BaseException) -> str:
    if isinstance(exc, MisSyncError):
        return str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    return f"internal error: {type(exc).__name__}: {exc}"


def _quiet(resource: str, done: int, total: int | None) -> None:
    pass
