"""Error pages: routes under /api/ answer in JSON (FastAPI's own shapes), every other route
with an HTML page from the base template, so a browser never shows a bare JSON body.

What a page says: the status in words and, for a 4xx, the route's own one-line reason
(which names IDs at most, never a pupil's name); for a 422, which parameter was wrong and
why, never the value given (it may be a name typed into a form). A 500 says only that
something went wrong: its exception's text may hold anything, so it is shown nowhere and
logged as its type and the frames it passed through, never its message.
"""

from __future__ import annotations

import logging
import traceback

from fastapi import Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

log = logging.getLogger("mis_sync.web")

TITLES = {
    400: "Bad request",
    401: "Log in first",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed here",
    422: "Not a valid request",
    500: "Something went wrong",
}


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def page(request: Request, status: int, reason: str, headers: dict | None = None):
    """The HTML error page: the base template, a link back to the fleet page."""
    from .pages import templates

    context = {"user": None, "status": status, "title": TITLES.get(status, "Error")}
    return templates.TemplateResponse(
        request, "error.html", {**context, "reason": reason}, status_code=status, headers=headers
    )


async def on_http_error(request: Request, exc: HTTPException):
    if is_api(request):
        return await http_exception_handler(request, exc)
    reason = exc.detail if isinstance(exc.detail, str) else ""
    return page(request, exc.status_code, reason, getattr(exc, "headers", None))


async def on_invalid(request: Request, exc: RequestValidationError):
    if is_api(request):
        return await request_validation_exception_handler(request, exc)
    wrong = "; ".join(
        f"{'.'.join(str(part) for part in e.get('loc', ()))}: {e.get('msg', 'not valid')}"
        for e in exc.errors()
    )
    return page(request, 422, wrong)


def on_crash(request: Request, exc: Exception):
    """A bug: logged without its message, answered without anything of it."""
    frames = "".join(traceback.format_tb(exc.__traceback__))
    log.error(
        "internal error in %s %s: %s\n%s",
        request.method,
        _route(request),
        type(exc).__name__,
        frames,
    )
    if is_api(request):
        return JSONResponse({"detail": "internal error"}, status_code=500)
    return page(request, 500, "")


def _route(request: Request) -> str:
    """The route's pattern (`/runs/{number}`), not the URL: no ID of a record in the log."""
    route = request.scope.get("route")
    return getattr(route, "path", None) or "(no route)"
