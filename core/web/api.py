"""The JSON API under /api/: runs, changes and the worklist, in the shapes of cli.md's JSON.

The same functions as the pages (content.py) and the CLI (store queries); the response
models only describe those shapes for the OpenAPI schema at /api/openapi.json.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from ..fixes import school_plugins, worklist
from ..schema import ENTITIES
from . import content
from .auth import User, current_user

router = APIRouter(prefix="/api", tags=["api"])
Viewer = Annotated[User, Depends(current_user)]
Entity = Literal[tuple(ENTITIES)]  # type: ignore[valid-type]
Op = Literal["insert", "update", "delete", "restore"]


class Run(BaseModel):
    run: int
    school: str
    connector: str
    status: str
    started: str
    finished: str | None
    inserted: int
    updated: int
    deleted: int
    left_out: int
    merged: int
    origin: str | None
    mass_delete_allowed: bool
    message: str | None


class WouldDelete(BaseModel):
    count: int
    ids: list[str]


class RunDetail(Run):
    would_delete: dict[str, WouldDelete]


class School(BaseModel):
    school: str
    connector: str
    last_run: Run
    last_ok: str | None
    stale: bool
    kept: dict[str, list[int]]


class Change(BaseModel):
    run: int
    entity: str
    id: str
    op: str
    changes: dict[str, Any]


class LeftOut(BaseModel):
    entity: str
    id: str
    reason: str
    reasons: list[str]
    merged: bool
    fix: str


class Worklist(BaseModel):
    school: str
    run: int | None
    records: list[LeftOut]


@router.get("/openapi.json", include_in_schema=False)
def openapi(request: Request, user: Viewer) -> dict:
    return request.app.openapi()


@router.get("/schools", response_model=list[School])
def schools(request: Request, user: Viewer):
    """Every school the user sees, failed and stopped first, with its latest run."""
    return content.fleet(request.app.state.store, user)


@router.get("/schools/{key}/runs", response_model=list[Run])
def runs(
    request: Request, key: str, user: Viewer, limit: Annotated[int, Query(ge=1, le=1000)] = 50
):
    """The school's runs, newest first (`mis-sync runs --json`)."""
    state = request.app.state
    key = content.school_key(state.store, state.config, user, key)
    return state.store.runs(key, limit=limit)


@router.get("/runs/{number}", response_model=RunDetail)
def run(
    request: Request,
    number: content.RunNumber,
    user: Viewer,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
):
    """One run (as `runs --json` lists it); a run the mass-delete safeguard stopped also says
    what it `would_delete`, by entity: how many and their MIS IDs (at most `limit` each)."""
    page = content.run(request.app.state.store, user, number, per_entity=limit)
    return {**page["run"], "would_delete": page["would_delete"]}


@router.get("/runs/{number}/changes", response_model=list[Change])
def changes(
    request: Request,
    number: content.RunNumber,
    user: Viewer,
    entity: Entity | None = None,
    op: Op | None = None,
    id: Annotated[str | None, Query(max_length=255)] = None,  # noqa: A002
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
):
    """A run's change events (`mis-sync changes --json`), filtered by entity, op and MIS ID."""
    page = content.run(
        request.app.state.store, user, number, entity=entity, op=op, rid=id, limit=limit
    )
    return page["changes"]


@router.get("/schools/{key}/worklist", response_model=Worklist)
def left_out(
    request: Request,
    key: str,
    user: Viewer,
    entity: Entity | None = None,
    reason: Annotated[str | None, Query(max_length=200)] = None,
):
    """What the latest successful run left out, with the fix (`mis-sync left-out --json`)."""
    state = request.app.state
    key = content.school_key(state.store, state.config, user, key)
    pm = school_plugins(state.config, state.store, key)
    return worklist(state.store, pm, key, entity=entity, reason=reason)
