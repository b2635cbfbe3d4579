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

from .rows import Demographic, Enrollment, Exchange, Klass, Org, Role, User
from .source import AGENT_ROLES, FILES

log = logging.getLogger("mis_sync.oneroster")

VERSION = 2  # 2: 1.2's roles, tombstones


class State(msgspec.Struct, kw_only=True):
    version: int = VERSION
    org: str
    bulk: list[str] = []  # files with a base (a bulk, or the first run's delta) to apply to
    orgs: dict[str, Org] = {}
    roles: dict[str, Role] = {}
    users: dict[str, User] = {}
    classes: dict[str, Klass] = {}
    enrollments: dict[str, Enrollment] = {}
    demographics: dict[str, Demographic] = {}
    # per file, the sourcedIds sent as tobedeleted and when: an older row sent later is stale
    gone: dict[str, dict[str, str | None]] = {}


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


def apply(previous: State | None, exchange: Exchange, org: str, *, first: bool) -> State:
    """This exchange over the previous picture: a bulk file replaces its table, a delta file
    updates it row by row, an absent file leaves it as it was.

    A delta row (or tobedeleted row) applies only when it is not older, by dateLastModified,
    than what the picture holds for its sourcedId, a deletion included: so an old delta sent
    again changes nothing. Rows without dateLastModified apply in the order exchanges come.

    :param first: the school has never stored a picture: a delta then applies to empty
        tables (with a warning), as an exporter that only ever sends deltas needs.
    """
    state = State(org=org, bulk=list(previous.bulk) if previous else [])
    for name in FILES:
        table = exchange.tables[name]
        before = getattr(previous, name) if previous else {}
        before_gone = previous.gone.get(name, {}) if previous else {}
        if table.mode == "absent":
            rows, gone = dict(before), dict(before_gone)
        elif table.mode == "bulk":
            rows, gone = {}, {}
            if name not in state.bulk:
                state.bulk.append(name)
        else:
            if name not in state.bulk:
                if not first:
                    raise SourceError(
                        f"{exchange.where}: {name}.csv is a delta, but no earlier run of this"
                        f" school stored a bulk {name}.csv to apply it to; sync a bulk export"
                        " first"
                    )
                exchange.warnings.append(
                    f"{name}.csv is a delta and this school has no earlier picture: applied to"
                    " an empty table (a bulk export gives the whole school)"
                )
                state.bulk.append(name)
            rows, gone = dict(before), dict(before_gone)
        keep = _keep(name, org, state)
        for sid, dead in table.deleted.items():
            held = rows[sid].modified if sid in rows else gone.get(sid)
            if not _older(dead.modified, held):
                rows.pop(sid, None)
                gone[sid] = dead.modified
        for sid, row in table.rows.items():
            held = rows[sid].modified if sid in rows else gone.get(sid)
            if _older(row.modified, held):
                continue  # an older change than the one already applied
            gone.pop(sid, None)
            if keep(sid, row):
                rows[sid] = row
            else:
                rows.pop(sid, None)  # moved out of this org
        setattr(state, name, rows)
        if gone:
            state.gone[name] = gone
    return state


def _older(modified: str | None, held: str | None) -> bool:
    """Whether a row last modified at `modified` is older than the change already held."""
    return modified is not None and held is not None and modified < held


def _keep(name: str, org: str, state: State):
    """Which rows the picture keeps: this org's, and every contact (whatever org it names)."""
    if name == "roles":
        return lambda _sid, r: r.org == org or r.role in AGENT_ROLES
    if name == "users":
        placed = {r.user for r in state.roles.values()}
        return lambda sid, u: org in u.orgs or u.role in AGENT_ROLES or sid in placed
    if name == "classes":
        return lambda _sid, c: c.school == org
    if name == "enrollments":
        return lambda _sid, e: e.school == org or e.klass in state.classes
    if name == "demographics":
        return lambda sid, _d: sid in state.users
    return lambda _sid, _row: True


def without(state: State, user: str) -> State:
    """The picture without one user's rows (`mis-sync forget`): their user row, their
    enrollments and their demographics. Other users' lists may still name their ID."""
    state.users.pop(user, None)
    state.demographics.pop(user, None)
    state.enrollments = {k: e for k, e in state.enrollments.items() if e.user != user}
    return state
