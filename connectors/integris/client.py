"""Datashare over HTTP: OAuth client credentials, cursor paging, and the errors of the wire spec.

Retries, back-off, deadlines, size caps and redaction come from core's HttpClient, and the
page, record and total checks from core's Paging; this module only knows what Datashare's
statuses and pages mean.
"""

from __future__ import annotations

import contextvars
import re
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, wait

import msgspec

from mis_sync.core.errors import SourceError
from mis_sync.core.http import HttpClient, Reply, path_segment
from mis_sync.core.limits import DEFAULT_LIMITS, Limits, Paging
from mis_sync.core.pools import requests_pool

from . import wire


class Fetched(msgspec.Struct):
    """Every decoded record per resource, and the records that failed validation."""

    records: dict[str, list]
    invalid: list[tuple[str, str | None, str]]  # (resource, id, reason)


PAGE_LIMIT = 1000  # the largest page Datashare allows: fewer round trips


class _Stopped(Exception):
    """Another resource of the run failed: this one stops before its next request."""


class Datashare:
    def __init__(
        self,
        http: HttpClient,
        *,
        school_id: str,
        client_id: str,
        client_secret: str,
        limit: int = PAGE_LIMIT,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.http = http
        self.school_id = school_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.limit = limit
        self.limits = limits
        self.token: str | None = None
        self._auth = threading.Lock()  # one token refresh, whichever resources saw the 401
        self._stop = threading.Event()
        http.add_secret(client_secret)

    def authenticate(self) -> None:
        response = self.http.request(
            "POST",
            "/oauth/token",
            what="token request",
            data={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
            },
        )
        if response.status_code == 401:
            raise SourceError(
                f"Datashare rejected the client credentials of client_id {self.client_id!r}"
                f" ({_error_code(response) or 'HTTP 401'})"
            )
        if response.status_code != 200:
            raise SourceError(f"token request: unexpected HTTP {response.status_code}")
        try:
            token = msgspec.json.decode(response.content)["access_token"]
        except (msgspec.DecodeError, KeyError, TypeError):
            raise SourceError("token request: the answer holds no access_token") from None
        if not isinstance(token, str) or not token:
            raise SourceError("token request: the answer holds no access_token")
        self.http.add_secret(token)  # before any check: a bad token is still a secret
        if not _BEARER_TOKEN.fullmatch(token):
            raise SourceError(
                "token request: the access_token holds a space, a line break or a character"
                " that is not ASCII, so it cannot be sent in a header; not retried"
            )
        self.token = token

    def fetch_all(self, progress: Callable[[str, int, int | None], None]) -> Fetched:
        """Every resource at once, one pooled thread each: they do not depend on each other, and
        at 50 ms a request one after another is most of a run. The HttpClient bounds how
        many requests are in flight (per school and per host); paging within a resource
        stays in order. A resource that fails stops the others at their next request; the
        run's error is that of the first resource, in wire order, that failed of itself.
        """
        self.authenticate()
        invalid = {resource: [] for resource in wire.RESOURCES}
        pool = requests_pool()  # shared by the process's schools (core/pools.py)
        # each thread runs in a copy of this one's context, so the run's redactor
        # (core/redaction.py) covers the log records and errors of every resource too
        futures = {
            pool.submit(
                contextvars.copy_context().run, self.fetch, resource, invalid[resource], progress
            ): resource
            for resource in wire.RESOURCES
        }
        try:
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            if any(f.exception() is not None for f in done):
                self._stop.set()
                wait(futures)
        except BaseException:  # Ctrl-C: the threads stop at their next request; wait for them
            self._stop.set()
            wait(futures)
            raise
        by_resource = {resource: future for future, resource in futures.items()}
        for resource in wire.RESOURCES:  # in a fixed order, so one source says one thing
            error = by_resource[resource].exception()
            if error is not None and not isinstance(error, _Stopped):
                raise error
        return Fetched(
            records={r: by_resource[r].result() for r in wire.RESOURCES},
            invalid=[i for r in wire.RESOURCES for i in invalid[r]],
        )

    def fetch(self, resource: str, invalid: list, progress) -> list:
        typed = wire.PAGE_DECODERS[resource].decode
        out: list = []
        cursor: str | None = None
        seen: set[str] = set()
        paging = Paging(resource, self.limits)
        url = f"/v1/schools/{path_segment(self.school_id)}/{resource}"
        while True:
            where = paging.where()
            params = {"limit": self.limit}
            if cursor is not None:
                params["cursor"] = cursor
            response = self._get(url, params, where)
            try:
                try:
                    # the common case, a page with no bad record, decodes in one call
                    page = typed(response.content)
                    out.extend(page.data)
                except msgspec.ValidationError:
                    page = self._one_by_one(response.content, resource, where, out, invalid)
            except msgspec.DecodeError as exc:
                raise SourceError(f"{where}: the body is not JSON ({exc})") from None
            except RecursionError:
                # msgspec cannot skip a value nested deeper than Python's recursion limit,
                # so the record cannot be told from the rest of its page: the page fails.
                raise SourceError(
                    f"{where}: a record is nested too deeply to read (JSON arrays or objects"
                    " over about 1000 levels); nothing stored"
                ) from None
            paging.add(len(page.data), page.meta.total)
            progress(resource, len(out), page.meta.total)
            cursor = page.meta.next_cursor
            if not cursor:
                paging.done()
                return out
            if cursor in seen:
                raise SourceError(
                    f"{where}: next_cursor repeats an earlier cursor; stopped instead of looping"
                )
            paging.next_page()
            seen.add(cursor)

    def _one_by_one(self, content: bytes, resource: str, where: str, out: list, invalid: list):
        """A page with a bad record: keep the good ones, and say what is wrong with the rest."""
        try:
            page = wire.RAW_PAGE_DECODER.decode(content)
        except msgspec.ValidationError as exc:
            raise SourceError(f"{where}: the page has the wrong shape: {exc}") from None
        decode = wire.DECODERS[resource].decode
        for raw in page.data:
            try:
                out.append(decode(raw))
            except msgspec.ValidationError as exc:
                invalid.append((resource, *wire.describe_invalid(resource, bytes(raw), exc)))
        return page

    def _get(self, url: str, params: dict, where: str) -> Reply:
        refreshed = False
        while True:
            if self._stop.is_set():
                raise _Stopped
            token = self.token
            response = self.http.request(
                "GET",
                url,
                what=where,
                params=params,
                headers={"Authorization": f"Bearer {token}"},
            )
            status = response.status_code
            if status == 200:
                return response
            if status == 401 and not refreshed:
                refreshed = True  # the token expired: one new token, one more try
                with self._auth:
                    if self.token == token:  # not yet renewed by another resource
                        self.authenticate()
                continue
            if status == 401:
                raise SourceError(f"{where}: Datashare refused a fresh token (HTTP 401)")
            if status == 403:
                permission = _json(response).get("permission") or "unknown"
                raise SourceError(
                    f"{where}: the school has not granted the Datashare permission"
                    f" {permission!r} ({_error_code(response) or 'HTTP 403'})"
                )
            if status == 404:
                raise SourceError(
                    f"{where}: Datashare knows no school with id {self.school_id!r} (HTTP 404)"
                )
            raise SourceError(f"{where}: unexpected HTTP {status}")


_BEARER_TOKEN = re.compile(r"[\x21-\x7e]+")  # what a header can carry as one token


def _json(response: Reply) -> dict:
    try:
        body = msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        return {}
    return body if isinstance(body, dict) else {}


def _error_code(response: Reply) -> str | None:
    code = _json(response).get("error")
    return code if isinstance(code, str) else None
