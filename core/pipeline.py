"""One run: fetch → map → merge → filter → diff → commit, for one school, under its lock.

Each stage takes the previous stage's output; nothing reaches back. Whatever goes wrong, the
run row ends as `failed` or `stopped` with its message, and no record has changed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any, Literal, NoReturn

import httpx
import pluggy
from sqlalchemy.exc import DBAPIError

from . import collector, plugins
from .config import Config, School, bind_school
from .errors import (
    ConfigError,
    MisSyncError,
    SafeguardStop,
    SchoolBusy,
    SourceError,
    StoreError,
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
        with store.lock(school.key, wait=wait) as held:
            try:
                if not dry_run:
                    run = store.start_run(school.key, school.connector, origin)
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
                committed = _ended(store, school.key, run, exc)
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
    held: Held,
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
    would have had alone, so the caller can exit with the worst.
    """

    def one(key: str) -> dict:
        try:
            school, pm = prepare(config, key, expect=connector)
            with progress_for(key) if progress_for else nullcontext() as progress:
                return {
                    **run_school(store, school, pm, progress=progress, **options),
                    "exit_code": 0,
                }
        except MisSyncError as exc:
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
        try:
            return list(pool.map(one, keys))
        except KeyboardInterrupt:
            # schools not yet started never start; runs under way end as they would (a thread
            # cannot be stopped), and the caller asks the store which of them were stored
            pool.shutdown(wait=True, cancel_futures=True)
            raise


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
        status = "stopped" if isinstance(exc, SafeguardStop) else "failed"
        try:
            now = store.fail_run(run, status, _message(exc))
        except DBAPIError:  # the database is gone too: the next run marks this one failed
            now = None
        if now == "ok":
            log.warning("%s: run %s is stored; then %s", school, run, _message(exc))
            return True
    raise exc


def _reraise(exc: BaseException) -> NoReturn:
    """Raise `exc` again; a database error as a StoreError that says only its first line,
    never its statement's data, and without the driver's exception chained to it."""
    if isinstance(exc, DBAPIError):
        raise StoreError(_message(exc)) from None
    raise exc


def _message(exc: BaseException) -> str:
    if isinstance(exc, MisSyncError):
        return str(exc)
    if isinstance(exc, DBAPIError):  # the driver's first line; its detail may quote a row
        first = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else ""
        return f"the database refused the run: {type(exc.orig).__name__}: {first}"
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    return f"internal error: {type(exc).__name__}: {exc}"


def _quiet(resource: str, done: int, total: int | None) -> None:
    pass
