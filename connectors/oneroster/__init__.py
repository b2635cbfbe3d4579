"""The OneRoster 1.1 CSV connector: an exchange (zip or folder) read, applied, mapped.

Registered under the entry point group `mis_sync.connectors` as `oneroster`. Scaffolded with
`mis-sync new-connector oneroster`; it differs from the template where the format does: a
delta exchange is applied to the rows kept from earlier runs (state.py) before mapping.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import msgspec

from mis_sync.core.errors import SourceError
from mis_sync.core.hookspecs import Demo, hookimpl

from . import state
from .mapping import to_dataset
from .source import read_exchange

NAME = "oneroster"
SAMPLE = Path(__file__).parent / "sample"
SAMPLE_ORG = "sch-north"  # the sample is a district of two schools; the demo syncs this one

NonBlank = Annotated[str, msgspec.Meta(min_length=1, pattern=r"\S")]


class OneRosterOptions(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    path: NonBlank  # the exchange: a .zip, or a folder holding manifest.csv and the rest
    org: NonBlank  # the school's sourcedId in orgs.csv: which school of a multi-school export
    # OneRoster has no title, and core keeps no teacher or contact without one: a title may
    # come from an extension column of users.csv, or, as the school's choice, a fixed default.
    title_column: NonBlank = "metadata.title"
    default_title: str | None = None


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
        Path(opts.path).expanduser(), title_column=opts.title_column, progress=progress
    )


@hookimpl
def mis_sync_map(school, raw, source_state):
    opts = school.options(OneRosterOptions)
    picture = state.apply(state.load(source_state, opts.org), raw, opts.org)
    if opts.org not in picture.orgs:
        raise SourceError(f"{raw.where}: org {opts.org!r} is not in orgs.csv")
    dataset = to_dataset(picture, raw, default_title=opts.default_title)
    kept = state.dump(picture)
    # Unchanged, it is not written again: an unchanged re-run writes nothing but its run row.
    dataset.source_state = None if kept == source_state else kept
    return dataset


@hookimpl
def mis_sync_forget(school, record_id, source_state):
    """A forgotten pupil, parent or teacher leaves the kept rows too, so that the next delta
    needs no bulk export (and brings them back only if the export sends them again)."""
    opts = school.options(OneRosterOptions)
    picture = state.load(source_state, opts.org)
    return None if picture is None else state.dump(state.without(picture, record_id))
