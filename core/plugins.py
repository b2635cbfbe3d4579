"""One plugin manager per run: core defaults, the chosen connector, then the school plugins.

A fresh manager per run keeps runs for different schools (and tests) from sharing state. The
installed distributions are scanned for entry points once per process (and `sys.path`), not
once per run: the scan reads every distribution's metadata, 13 ms of CPU per school in a fleet
run of 71. A plugin installed while a worker runs is seen once the worker restarts.
`MIS_SYNC_LOAD_PLUGINS` (comma-separated names, empty for none) limits which
`mis_sync.plugins` entry points load; `MIS_SYNC_TRACE_HOOKS=1` logs every hook call (name,
plugins, time, sizes; never the records), shown with `-vv`.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from importlib.metadata import EntryPoints, entry_points
from types import ModuleType

import pluggy

from . import hookspecs
from .errors import ConfigError

CONNECTOR_GROUP = "mis_sync.connectors"
PLUGIN_GROUP = "mis_sync.plugins"
DEFAULT_PLUGINS = (
    "mis_sync.core.rules",
    "mis_sync.core.local",
    "mis_sync.core.fixes",
    "mis_sync.core.limits",
)

log = logging.getLogger("mis_sync.plugins")


_scans: dict[tuple[str, ...], EntryPoints] = {}


def installed() -> EntryPoints:
    """Every installed entry point, scanned once per `sys.path` (a test or a school's
    plugin folder that changes the path is scanned again)."""
    path = tuple(sys.path)
    found = _scans.get(path)
    if found is None:
        if len(_scans) > 16:  # a process that keeps changing its path: no unbounded cache
            _scans.clear()
        found = _scans[path] = entry_points()
    return found


def installed_connectors() -> dict[str, str]:
    """Entry-point name → distribution version, for listings and error messages."""
    return {ep.name: _version(ep) for ep in installed().select(group=CONNECTOR_GROUP)}


def installed_plugins() -> dict[str, str]:
    return {ep.name: _version(ep) for ep in installed().select(group=PLUGIN_GROUP)}


def manager(
    connector: str | ModuleType | object, plugins: tuple[object, ...] = ()
) -> pluggy.PluginManager:
    """Build the manager for one run.

    :param connector: an entry-point name, or a plugin object (tests, the template).
    :param plugins: extra plugin objects, registered after the entry-point plugins.
    """
    pm = pluggy.PluginManager("mis_sync")
    pm.add_hookspecs(hookspecs)
    for name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
    found = installed()
    if isinstance(connector, str):
        pm.register(load_connector(connector, found), name=f"connector:{connector}")
    else:
        pm.register(connector, name="connector")
    allowed = os.environ.get("MIS_SYNC_LOAD_PLUGINS")
    allow = None if allowed is None else {n.strip() for n in allowed.split(",") if n.strip()}
    for ep in found.select(group=PLUGIN_GROUP):
        if allow is None or ep.name in allow:
            pm.register(ep.load(), name=f"plugin:{ep.name}")
    for plugin in plugins:
        pm.register(plugin)
    pm.check_pending()
    if os.environ.get("MIS_SYNC_TRACE_HOOKS"):
        trace(pm)
    return pm


def trace(pm: pluggy.PluginManager) -> None:
    """Log each hook call: its name, the plugins it ran, its time and the sizes it handled.

    Never the values: a hook's arguments hold pupils' records, and logs name records by ID
    only (docs/operations.md). pluggy's own tracing prints every argument in full.
    """
    import time

    started: list[float] = []

    def before(hook_name, hook_impls, kwargs) -> None:
        started.append(time.perf_counter())

    def after(outcome, hook_name, hook_impls, kwargs) -> None:
        took = (time.perf_counter() - started.pop()) * 1000
        ran = ", ".join(i.plugin_name for i in hook_impls) or "none"
        args = ", ".join(f"{k}={describe(v)}" for k, v in sorted(kwargs.items()))
        result = (
            f"raised {type(outcome.exception).__name__}"
            if outcome.exception is not None
            else f"returned {describe(outcome.get_result())}"
        )
        log.debug("hook %s [%s] %.1f ms; %s; %s", hook_name, ran, took, args or "no args", result)

    pm.add_hookcall_monitoring(before, after)


def describe(value) -> str:
    """What a hook handled, by kind and size only: never a record's contents."""
    from .config import School
    from .schema import Dataset

    if value is None or isinstance(value, bool | int | float):
        return repr(value)
    if isinstance(value, School):
        return f"school {value.key!r}"
    if isinstance(value, Dataset):
        return "Dataset(" + ", ".join(f"{len(v)} {k}" for k, v in value.records.items()) + ")"
    if isinstance(value, type):
        return value.__name__
    if callable(value):
        return "a callback"
    if isinstance(value, str | bytes):
        return f"{type(value).__name__} of {len(value)}"
    if isinstance(value, list | tuple | dict | set):
        if isinstance(value, list | tuple) and all(isinstance(v, type) for v in value):
            return "[" + ", ".join(describe(v) for v in value) + "]"
        return f"{type(value).__name__} of {len(value)}"
    return type(value).__name__


def require_installed(name: str) -> None:
    """Stop (exit 2) on a connector name no installed package provides, listing those that are."""
    if name not in (known := installed_connectors()):
        listed = ", ".join(sorted(known)) or "none"
        raise ConfigError(f"connector {name!r} is not installed (installed: {listed})")


def load_connector(name: str, found: EntryPoints) -> object:
    matches = list(found.select(group=CONNECTOR_GROUP, name=name))
    if not matches:
        require_installed(name)
    return matches[0].load()


def _version(ep) -> str:
    return ep.dist.version if ep.dist else "unknown"
