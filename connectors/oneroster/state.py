"""The school's picture of its OneRoster source, which a delta updates rather than replaces.

A delta row changes one source row (one enrollment, one user); a canonical class is built from
many rows of several files, and the store keeps only the records the rules kept. So the rows
themselves are kept between runs, as core's `source_state`, and every run maps the whole
picture: eligibility then judges a delta exactly as it would have judged the full export.
Only the configured org's rows are kept (and every contact, whichever org it names).
"""

from __future__ import annotations

import logging
import zlib

import msgspec

from mis_sync.core.errors import SourceError

from .source import Demographic, Enrollment, Exchange, Klass, Org, User

log = logging.getLogger("mis_sync.oneroster")

VERSION = 1
AGENT_ROLES = ("parent", "guardian", "relative")
KEPT = ("orgs", "users", "classes", "enrollments", "demographics")


class State(msgspec.Struct, kw_only=True):
    version: int = VERSION
    org: str
    bulk: list[str] = []  # files ever received in bulk: a delta needs something to apply to
    orgs: dict[str, Org] = {}
    users: dict[str, User] = {}
    classes: dict[str, Klass] = {}
    enrollments: dict[str, Enrollment] = {}
    demographics: dict[str, Demographic] = {}


_decoder = msgspec.json.Decoder(State)
_encoder = msgspec.json.Encoder()


def load(data: bytes | None, org: str) -> State | None:
    """The stored picture, or None when there is none this run can build on."""
    if data is None:
        return None
    try:
        state = _decoder.decode(zlib.decompress(data))
    except (zlib.error, msgspec.DecodeError, msgspec.ValidationError) as exc:
        log.warning("stored OneRoster state is unreadable (%s); a bulk export rebuilds it", exc)
        return None
    if state.version != VERSION or state.org != org:
        return None  # another org's rows, or another layout: start again from a bulk
    return state


def dump(state: State) -> bytes:
    return zlib.compress(_encoder.encode(state), 6)


def apply(previous: State | None, exchange: Exchange, org: str) -> State:
    """This exchange over the previous picture: a bulk file replaces its table, a delta file
    updates it row by row, an absent file leaves it as it was."""
    state = State(org=org, bulk=list(previous.bulk) if previous else [])
    for name in KEPT:
        table = exchange.tables[name]
        before = getattr(previous, name) if previous else {}
        if table.mode == "absent":
            rows = dict(before)
        elif table.mode == "bulk":
            rows = {}
            if name not in state.bulk:
                state.bulk.append(name)
        else:
            if name not in state.bulk:
                raise SourceError(
                    f"{exchange.where}: {name}.csv is a delta, but no earlier run of this"
                    f" school stored a bulk {name}.csv to apply it to; sync a bulk export first"
                )
            rows = dict(before)
        keep = _keep(name, org, state)
        for sid, modified in table.deleted.items():
            if not _stale(rows.get(sid), modified):
                rows.pop(sid, None)
        for sid, row in table.rows.items():
            if _stale(rows.get(sid), row.modified):
                continue  # an older change than the one already applied
            if keep(row):
                rows[sid] = row
            else:
                rows.pop(sid, None)  # moved out of this org
        setattr(state, name, rows)
    return state


def _stale(stored, modified: str | None) -> bool:
    """A row last modified before the stored one's change is an old delta sent again."""
    return (
        stored is not None
        and modified is not None
        and stored.modified is not None
        and modified < stored.modified
    )


def _keep(name: str, org: str, state: State):
    if name == "users":
        return lambda u: org in u.orgs or u.role in AGENT_ROLES
    if name == "classes":
        return lambda c: c.school == org
    if name == "enrollments":
        return lambda e: e.school == org or e.klass in state.classes
    return lambda _row: True


def without(state: State, user: str) -> State:
    """The picture without one user's rows (`mis-sync forget`): their user row, their
    enrollments and their demographics. Other users' lists may still name their ID."""
    state.users.pop(user, None)
    state.demographics.pop(user, None)
    state.enrollments = {k: e for k, e in state.enrollments.items() if e.user != user}
    return state
