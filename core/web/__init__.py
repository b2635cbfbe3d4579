"""The dashboard and JSON API (extra `web`, docs/dashboard.md): thin over the store's queries.

`create_app` builds one FastAPI app over one `Store`: HTML pages (pages.py) and the JSON API
(api.py) read the same functions (content.py). Every response carries a strict
Content-Security-Policy and `Cache-Control: no-store` (pages hold pupils' personal data);
templates escape everything; forms carry a CSRF token (fastapi-csrf-protect, double submit);
the access log is off, because a URL may hold a record's ID and a log should not hold more.
Errors are JSON under /api/ and HTML pages elsewhere; a 500 carries nothing of its exception
(errors.py).
"""

from __future__ import annotations

import secrets

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi_csrf_protect import CsrfProtect
from fastapi_csrf_protect.exceptions import CsrfProtectError
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware

from . import errors
from .auth import LoginRequired, User

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self';"
    " frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def create_app(store, config, users: dict[str, User], *, secure_cookies: bool = False) -> FastAPI:
    """The app; `users` is who may log in (auth.py). Secrets for the session and CSRF cookies
    are made here, per process: restarting the server logs everyone out."""
    from . import api, pages

    app = FastAPI(
        title="mis-sync",
        summary="Runs, changes and the left-out worklist of a mis-sync store",
        docs_url=None,  # Swagger UI loads scripts from a CDN: the schema is at /api/openapi.json
        redoc_url=None,
        openapi_url=None,  # served by api.py behind the login
    )
    app.state.store, app.state.config, app.state.users = store, config, users
    csrf_secret = secrets.token_urlsafe(32)

    @CsrfProtect.load_config
    def _csrf_settings():
        return [
            ("secret_key", csrf_secret),
            ("token_location", "body"),
            ("token_key", "csrf_token"),
            ("cookie_samesite", "strict"),
            ("cookie_secure", secure_cookies),
            ("max_age", 8 * 3600),
        ]

    app.add_middleware(
        SessionMiddleware,
        secret_key=secrets.token_urlsafe(32),
        session_cookie="mis_sync_session",
        max_age=8 * 3600,
        same_site="strict",
        https_only=secure_cookies,
    )

    @app.middleware("http")
    async def _headers(request: Request, call_next):
        try:
            response = await call_next(request)
        except Exception as exc:  # noqa: BLE001 - a bug: a page without its text (errors.py)
            response = errors.on_crash(request, exc)
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired):
        if request.url.path.startswith("/api/"):
            return JSONResponse(
                {"detail": "log in first (HTTP Basic, or the session cookie of /login)"},
                status_code=401,
                headers={"WWW-Authenticate": 'Basic realm="mis-sync"'},
            )
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(CsrfProtectError)
    async def _csrf(request: Request, exc: CsrfProtectError):
        reason = "the form's security token is missing or expired; reload the page"
        if errors.is_api(request):
            return JSONResponse({"detail": reason}, status_code=403)
        return errors.page(request, 403, reason)

    app.add_exception_handler(HTTPException, errors.on_http_error)
    app.add_exception_handler(RequestValidationError, errors.on_invalid)

    app.include_router(pages.router)
    app.include_router(api.router)
    return app
