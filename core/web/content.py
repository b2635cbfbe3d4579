"""What each page shows, as plain data: the HTML pages render it, the JSON API returns it.

Thin over the store's queries (core/store/queries.py, overview.py, duplicates.py) and
core/fixes.py, the same the CLI prints; nothing here reads SQL itself.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import HTTPException, Path
from sqlalchemy.exc import NoResultFound

from .. import sso
from ..fixes import school_plugins, worklist
from ..pipeline import local_fields
from .auth import User

STALE = timedelta(days=1)
ORDER = {"failed": 0, "stopped": 1, "running": 2, "ok": 3}
DATA = ("students", "parents", "teachers")
# a run's number in a URL: what the store's integer column holds (as the CLI's --run), so a
# larger one is a 422, not a driver's overflow
RunNumber = Annotated[int, Path(ge=1, le=2**31 - 1)]


def fleet(store, user: User, now: datetime | None = None) -> list[dict]:
    """Every school the user sees: failed and stopped first, then stale, then by key."""
    now = now or datetime.now(UTC)
    rows = store.fleet(None if user.schools is None else sorted(user.schools))
    for row in rows:
        last = row["last_ok"]
        row["stale"] = last is None or _when(last) < now - STALE
    rows.sort(key=lambda r: (ORDER.get(r["last_run"]["status"], 9), not r["stale"], r["school"]))
    return rows


def school_key(store, config, user: User, key: str) -> str:
    """The school, if it exists and the user may see it; 404 otherwise (a scoped user is not
    told which other schools exist)."""
    if not user.sees(key) or (key not in config.schools and store.connector_of(key) is None):
        raise HTTPException(404, "no such school")
    return key


def school(store, config, key: str) -> dict:
    pm = school_plugins(config, store, key)
    found = worklist(store, pm, key)
    groups: dict[str, list[dict]] = {}
    for r in found["records"]:
        groups.setdefault(f"{r['entity']}: {r['reason']}", []).append(r)
    latest = store.latest_run(key)
    return {
        "school": key,
        "connector": store.connector_of(key),
        "runs": store.runs(key, limit=50),
        "history": store.kept_history(key),
        "counts": store.entity_counts(key),
        "worklist": found,
        "worklist_groups": sorted(groups.items(), key=lambda g: (g[1][0]["merged"], -len(g[1]))),
        "duplicates": store.duplicates(key),
        "sso": sso.problems(store, key) if latest is not None else [],
        "latest_ok": latest,
    }


WOULD_DELETE_SHOWN = 100  # IDs a Run page lists per entity; "and N more" says the rest


def run(
    store,
    user: User,
    number: int,
    *,
    entity=None,
    op=None,
    rid=None,
    limit=500,
    per_entity: int | None = WOULD_DELETE_SHOWN,
) -> dict:
    """A run with its changes (an `ok` run), or what it would have deleted and the commands
    to see and allow it (a `stopped` run): `per_entity` caps the IDs listed per entity."""
    try:
        info = store.run(number)
    except NoResultFound:
        raise HTTPException(404, "no such run") from None
    if not user.sees(info["school"]):
        raise HTTPException(404, "no such run")
    filters = dict(entity=entity or None, op=op or None, rid=rid or None)
    out = {"run": info, "changes": [], "summary": None, "allow": None, "would_delete": {}}
    if info["status"] == "ok":
        out["summary"] = store.change_summary(info["school"], number, **filters)
        out["changes"] = store.changes(info["school"], number, **filters, limit=limit)
    if info["status"] == "stopped":
        school, conn = info["school"], info["connector"]
        out["would_delete"] = store.would_delete(
            number, entity=filters["entity"], rid=filters["rid"], per_entity=per_entity
        )
        out["allow"] = {
            "see": f"mis-sync run {conn} --school {school} --dry-run --json",
            "allow": f"mis-sync run {conn} --school {school} --allow-mass-delete",
        }
    return out


def record(store, config, key: str, entity: str, rid: str) -> dict:
    stored = store.record(key, entity, rid)
    return {
        "school": key,
        "entity": entity,
        "id": rid,
        "stored": stored,
        "history": store.history(key, entity, rid),
        "explain": store.explain(key, entity, rid),
    }


def data(store, config, key: str, view: str) -> list[dict]:
    """Data > Students, Parents (the Export Parents rows) or Teachers (with their room)."""
    if view == "parents":
        return store.export_parents(key)
    return store.export(key, view, local_fields(school_plugins(config, store, key)))


def _when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
