"""The OneRoster 1.1 and 1.2 CSV connector: an exchange (zip or folder) read, applied, mapped.

Registered under the entry point group `mis_sync.connectors` as `oneroster`. Scaffolded with
`mis-sync new-connector oneroster`; it differs from the template where the format does: a
delta exchange is applied to the rows kept from earlier runs (state.py) before mapping.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import msgspec

from mis_sync.core.errors import ConfigError
from mis_sync.core.hookspecs import Demo, hookimpl

from . import state
from .files import MB, Caps
from .mapping import to_dataset
from .rows import Exchange
from .source import read_exchange

log = logging.getLogger("mis_sync.oneroster")

NAME = "oneroster"
SAMPLE = Path(__file__).parent / "sample"
SAMPLE_ORG = "sch-north"  # the sample is a district of two schools; the demo syncs this one

NonBlank = Annotated[str, msgspec.Meta(min_length=1, pattern=r"\S")]


class OneRosterOptions(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    path: NonBlank  # the exchange: a .zip, or a folder holding manifest.csv and the rest
    org: NonBlank  # the school's sourcedId in orgs.csv: which school of a multi-school export
    # OneRoster has no title, and core keeps no teacher or contact without one: a title may
    # come from an extension column of users.csv, or, as the school's choice, a fixed default.
    # Unset, the default `metadata.title` is read when users.csv has it; set, it must be there.
    title_column: NonBlank | None = None
    default_title: str | None = None
    # Caps on each file of the exchange (a zip member inflated): far above any real school.
    max_file_mb: Annotated[int, msgspec.Meta(ge=1)] = 2048
    max_zip_ratio: Annotated[int, msgspec.Meta(ge=1)] = 200


@hookimpl
def mis_sync_options():
    return OneRosterOptions


@hookimpl
def mis_sync_demo():
    return Demo(options={"connector": NAME, "path": str(SAMPLE), "org": SAMPLE_ORG}, transport=None)


@hookimpl
def mis_sync_fetch(school, progress):
    opts = school.options(OneRosterOptions)
    return read_exchange(
        Path(opts.path).expanduser(),
        org=opts.org,
        title_column=opts.title_column,
        default_title=opts.default_title,
        progress=progress,
        caps=Caps(opts.max_file_mb * MB, opts.max_zip_ratio),
    )


@hookimpl
def mis_sync_map(school, raw, source_state):
    opts = school.options(OneRosterOptions)
    previous = state.load(source_state, opts.org)
    try:
        picture = state.apply(previous, raw, opts.org, first=source_state is None)
        _check_org(picture, raw, opts.org)
    finally:  # what was odd is said even when the run stops here
        for warning in raw.warnings:
            log.warning("%s: %s", school.key, warning)
    dataset = to_dataset(picture, raw, default_title=opts.default_title)
    kept = state.dump(picture)
    # Unchanged, it is not written again: an unchanged re-run writes nothing but its run row.
    dataset.source_state = None if kept == source_state else kept
    return dataset


def _check_org(picture: state.State, raw: Exchange, org: str) -> None:
    """The configured org must be one the exchange knows, and should have something in it."""
    listed = ", ".join(sorted(raw.orgs_with_classes | raw.orgs_with_users)) or "none"
    if org not in picture.orgs:
        if not picture.orgs:
            raw.warnings.append(f"orgs.csv lists no orgs, so org {org!r} cannot be checked")
            return
        raise ConfigError(
            f"option org: {org!r} is not in orgs.csv of {raw.where}; orgs with classes or"
            f" users: {listed}"
        )
    if not any(c.school == org for c in picture.classes.values()):
        with_classes = sorted(raw.orgs_with_classes)
        raw.warnings.append(
            f"org {org!r} has no classes, so nothing of it can be kept; orgs with classes:"
            f" {', '.join(with_classes) or 'none'}"
        )


@hookimpl
def mis_sync_forget(school, record_id, source_state):
    """A forgotten pupil, parent or teacher leaves the kept rows too, so that the next delta
    needs no bulk export (and brings them back only if the export sends them again)."""
    opts = school.options(OneRosterOptions)
    picture = state.load(source_state, opts.org)
    return None if picture is None else state.dump(state.without(picture, record_id))
