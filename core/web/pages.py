"""The HTML pages: one route per page, each rendering what content.py gives it.

Server-rendered, no JavaScript. A name search is a POST, so a pupil's name never lands in a
URL, a browser history or a proxy's log; record pages are addressed by MIS ID only.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from fastapi_csrf_protect import CsrfProtect
from jinja2 import Environment, FileSystemLoader

from ..errors import MisSyncError
from ..schema import ENTITIES
from ..store.queries import PARENT_FIELDS
from . import charts, content
from .auth import User, check_password, current_user, editor

router = APIRouter()
templates = Jinja2Templates(
    env=Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True)
)
templates.env.globals.update(sparkline=charts.sparkline, runs_chart=charts.runs_chart)
templates.env.filters["changes"] = lambda e: _fmt_changes(e["op"], e["changes"])
Viewer = Annotated[User, Depends(current_user)]
Editor = Annotated[User, Depends(editor)]
OPS = ("insert", "update", "delete", "restore")


def _fmt_changes(op: str, changes: dict) -> str:
    from ..cli.output import fmt_changes  # the CLI's words for a change, set-style lists

    return fmt_changes(op, changes)


def render(request: Request, name: str, user: User | None, status: int = 200, **context):
    """A page whose forms carry the session's CSRF token (the cookie half set on the response).

    One token per session, kept in the signed session cookie, so two open tabs both work;
    logging in starts a new session and so a new token.
    """
    csrf = CsrfProtect()
    token, signed = request.session.get("csrf") or csrf.generate_csrf_tokens()
    request.session["csrf"] = [token, signed]
    response = templates.TemplateResponse(
        request, name, {"user": user, "csrf_token": token, **context}, status_code=status
    )
    csrf.set_csrf_cookie(signed, response)
    return response


async def checked_form(request: Request) -> None:
    """Every POST: the form's CSRF token must match its cookie (fastapi-csrf-protect)."""
    await request.form()
    await CsrfProtect().validate_csrf(request)


Csrf = Depends(checked_form)


@router.get("/style.css", include_in_schema=False)
def style() -> Response:
    css = (Path(__file__).parent / "templates" / "style.css").read_text(encoding="utf-8")
    return Response(css, media_type="text/css")


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(request: Request):
    return render(request, "login.html", None)


@router.post("/login", include_in_schema=False, dependencies=[Csrf])
def login(request: Request, user: Annotated[str, Form()], password: Annotated[str, Form()]):
    found = check_password(request.app.state.users, user, password)
    if found is None:
        return render(request, "login.html", None, 401, error="wrong user name or password")
    request.session.clear()
    request.session["user"] = found.name
    return RedirectResponse("/", status_code=303)


@router.post("/logout", include_in_schema=False, dependencies=[Csrf])
def logout(request: Request):
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def fleet_page(request: Request, user: Viewer):
    return render(request, "fleet.html", user, schools=content.fleet(request.app.state.store, user))


def _key(request: Request, user: User, key: str) -> str:
    state = request.app.state
    return content.school_key(state.store, state.config, user, key)


@router.get("/schools/{key}", response_class=HTMLResponse, include_in_schema=False)
def school_page(request: Request, key: str, user: Viewer):
    state = request.app.state
    key = _key(request, user, key)
    return render(request, "school.html", user, **content.school(state.store, state.config, key))


@router.get("/runs/{number}", response_class=HTMLResponse, include_in_schema=False)
def run_page(
    request: Request,
    number: content.RunNumber,
    user: Viewer,
    entity: str = "",
    op: str = "",
    id: str = "",  # noqa: A002 - the query parameter people type
):
    if entity and entity not in ENTITIES or op and op not in OPS:
        raise HTTPException(404, "no such entity or op")
    page = content.run(request.app.state.store, user, number, entity=entity, op=op, rid=id)
    return render(
        request, "run.html", user, **page, entities=list(ENTITIES), ops=OPS,
        chosen={"entity": entity, "op": op, "id": id},
    )  # fmt: skip


@router.get("/schools/{key}/records", response_class=HTMLResponse, include_in_schema=False)
def search_page(request: Request, key: str, user: Viewer):
    return render(request, "search.html", user, school=_key(request, user, key), found=None)


@router.post(
    "/schools/{key}/records", response_class=HTMLResponse, include_in_schema=False,
    dependencies=[Csrf],
)  # fmt: skip
def search(request: Request, key: str, user: Viewer, q: Annotated[str, Form(max_length=200)]):
    key = _key(request, user, key)
    found = request.app.state.store.find_records(key, q)
    return render(request, "search.html", user, school=key, found=found, q=q)


@router.get(
    "/schools/{key}/records/{entity}/{rid}", response_class=HTMLResponse, include_in_schema=False
)
def record_page(request: Request, key: str, entity: str, rid: str, user: Viewer):
    state = request.app.state
    key = _key(request, user, key)
    if entity not in ENTITIES:
        raise HTTPException(404, "no such entity")
    try:
        page = content.record(state.store, state.config, key, entity, rid)
    except MisSyncError as exc:
        raise HTTPException(404, str(exc)) from None
    return render(request, "record.html", user, **page)


@router.get("/schools/{key}/data/parents.csv", include_in_schema=False)
def export_parents_csv(request: Request, key: str, user: Viewer):
    """Export Parents, as `mis-sync export parents --format csv` writes it."""
    from ..cli.inspecting import parents_csv_rows

    key = _key(request, user, key)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*PARENT_FIELDS, "pupils"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(parents_csv_rows(request.app.state.store.export_parents(key)))
    return PlainTextResponse(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="parents-{key}.csv"'},
    )


@router.get("/schools/{key}/data/{view}", response_class=HTMLResponse, include_in_schema=False)
def data_page(request: Request, key: str, view: str, user: Viewer):
    state = request.app.state
    key = _key(request, user, key)
    if view not in content.DATA:
        raise HTTPException(404, "no such view")
    rows = content.data(state.store, state.config, key, view)
    return render(request, "data.html", user, school=key, view=view, rows=rows)


@router.post("/schools/{key}/teachers/{rid}/room", include_in_schema=False, dependencies=[Csrf])
def set_room(
    request: Request, key: str, rid: str, user: Editor, room: Annotated[str, Form(max_length=64)]
):
    """The teacher's room, a local field no sync overwrites (as `mis-sync set teacher`),
    audited as a `local` event made by the dashboard's user."""
    key = _key(request, user, key)
    store = request.app.state.store
    try:
        store.set_local(key, "teachers", rid, "room", room.strip() or None, who=f"web:{user.name}")
    except MisSyncError as exc:
        raise HTTPException(404, str(exc)) from None
    return RedirectResponse(f"/schools/{key}/data/teachers", status_code=303)


@router.post("/schools/{key}/duplicates/dismiss", include_in_schema=False, dependencies=[Csrf])
def dismiss(
    request: Request,
    key: str,
    user: Editor,
    a: Annotated[str, Form(max_length=255)],
    b: Annotated[str, Form(max_length=255)],
):
    key = _key(request, user, key)
    try:
        request.app.state.store.dismiss(key, a, b)
    except MisSyncError as exc:
        raise HTTPException(404, str(exc)) from None
    return RedirectResponse(f"/schools/{key}", status_code=303)
