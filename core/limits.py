"""What a source may send a run: pages, records, bytes and time, as per-school options.

A limit is never left to the source (ARCHITECTURE.md): a server that always sends another
`next_cursor`, inflates a small gzip page into gigabytes, or trickles a byte a second must end
the run with a message, not hold the school's lock for hours or exhaust the machine. The
defaults are far above any real school (about ten times the largest), so only a hostile or
broken source meets them. Core declares these options for every connector (a default plugin,
like the rules); a connector reads them with ``school.options(Limits)``, hands them to
core's HttpClient (bytes and time) and counts its pages with ``Paging`` (pages, records and
the source's own total).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from .errors import SourceError
from .hookspecs import hookimpl

Positive = Annotated[float, msgspec.Meta(gt=0)]
Count = Annotated[int, msgspec.Meta(ge=1)]


class Limits(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """The per-school caps and deadlines (docs/operations.md, "Limits")."""

    max_pages: Count = 2_000  # pages of one resource
    max_records: Count = 100_000  # records of one resource
    max_response_mb: Positive = 64.0  # one response's body, as decoded (after gzip)
    request_deadline: Positive = 120.0  # seconds for one request, its whole body included
    run_deadline: Positive = 1_200.0  # seconds for a run's whole fetch, retries included

    @property
    def max_response_bytes(self) -> int:
        return int(self.max_response_mb * 1024 * 1024)


DEFAULT_LIMITS = Limits()


@hookimpl
def mis_sync_options():
    return Limits


class Paging:
    """The pages of one resource as they arrive, checked against the caps and the source's total.

    A source that sends `total` is held to it: more records than it said, a total that
    changes between pages, or fewer records than it said at the end all mean the list moved
    (or lies) while it was read, and a partial list must not be stored as the school's. Those
    failures are transient: the next run may find the list still.
    """

    def __init__(self, resource: str, limits: Limits) -> None:
        self.resource = resource
        self.limits = limits
        self.pages = 0
        self.records = 0
        self.total: int | None = None

    def where(self) -> str:
        """The page about to be read, for messages: `students page 3`."""
        return f"{self.resource} page {self.pages + 1}"

    def add(self, count: int, total: int | None) -> None:
        """Count one page of `count` records; `total` is what the page says the resource holds."""
        self.pages += 1
        self.records += count
        where = f"{self.resource} page {self.pages}"
        if total is not None:
            if self.total is None:
                self.total = total
            elif total != self.total:
                raise SourceError(
                    f"{where}: meta.total changed from {self.total} to {total} while the"
                    " pages were read; the list moved, nothing stored (try again later)",
                    transient=True,
                )
            if self.records > self.total:
                raise SourceError(
                    f"{where}: {self.records} records fetched, more than the {self.total} of"
                    " meta.total; nothing stored",
                    transient=True,
                )
        if self.records > self.limits.max_records:
            raise SourceError(
                f"{where}: more than max_records = {self.limits.max_records} records;"
                " stopped, nothing stored"
            )

    def next_page(self) -> None:
        """Called before following a cursor: one more page must stay within max_pages."""
        if self.pages >= self.limits.max_pages:
            raise SourceError(
                f"{self.resource} page {self.pages}: the source sends a next_cursor past"
                f" max_pages = {self.limits.max_pages}; stopped, nothing stored"
            )

    def done(self) -> None:
        """The last page has come: the records fetched must be the total the source sent."""
        if self.total is not None and self.records != self.total:
            raise SourceError(
                f"{self.resource} page {self.pages}: {self.records} records fetched, but"
                f" meta.total said {self.total}; the list moved, nothing stored"
                " (try again later)",
                transient=True,
            )
