"""A fake Datashare speaking datashare-wire.md, for the demo, the tests and the cassettes.

It is a plain WSGI app so the same object serves in-process (``transport()``, no sockets,
no ports) and on loopback (``serve()``), where the real client, retries included, and vcrpy
see true HTTP. Faults are injected per resource and page, because every error the client
must survive happens on some page of some resource, often not the first.

A network can be put in front of it (`Network`: latency per request, a shared bandwidth cap,
and a limit of requests in flight per client enforced with 429 + Retry-After, as a real API
would), and it counts the requests in flight per client, so a test can fail a client that
sends more at once than it was allowed.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import secrets
import ssl
import threading
import time
from collections.abc import Iterator, Sequence
from http import HTTPStatus
from socketserver import ThreadingMixIn
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import msgspec

BASE_URL_INPROCESS = "http://127.0.0.1/api"
PREFIX = "/api"
RESOURCES = ("students", "contacts", "contact-links", "staff", "classes", "groups")
FAULT_KINDS = (
    "status",
    "expire_token",
    "not_json",
    "wrong_shape",
    "truncated",
    "loop_cursor",
    "delay",
)
MAX_LIMIT = 1000
_JSON = "application/json"


class Fault(msgspec.Struct, kw_only=True):
    kind: str  # one of FAULT_KINDS
    resource: str
    page: int = 1  # 1-based; page 1 is the request without a cursor
    times: int = 1  # loop_cursor ignores it: a looping server loops forever
    status: int = 500
    retry_after: float | None = None
    body: dict | None = None
    seconds: float = 0.0  # for kind="delay": how long the page takes


class Network(msgspec.Struct, kw_only=True, frozen=True):
    """What a real network and a polite-or-else API add to each request."""

    latency: float = 0.0  # seconds added to every request, before it is answered
    mbit: float | None = None  # the link's bandwidth, shared by every response at once
    max_in_flight: int | None = None  # per client (OAuth client_id); more gets 429
    retry_after: float = 1.0  # what the 429 tells the client to wait, in seconds


class FakeDatashare:
    def __init__(
        self,
        data: dict[str, list[dict]],
        *,
        school_id: str = "1001",
        client_id: str = "demo-client",
        client_secret: str = "demo-secret",
        faults: Sequence[Fault] = (),
        default_limit: int = 500,
        network: Network | None = None,
    ) -> None:
        for fault in faults:
            if fault.kind not in FAULT_KINDS:
                raise ValueError(f"unknown fault kind {fault.kind!r}; one of {FAULT_KINDS}")
        # Held by reference, so a test may change the school between two runs.
        self.data = data
        self.school_id = school_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.default_limit = default_limit
        self.faults = list(faults)
        self._left = [f.times for f in self.faults]
        self._tokens: set[str] = set()
        self._lock = threading.Lock()  # serve() answers requests on many threads
        self._encode = msgspec.json.Encoder().encode
        self.requests: list[tuple[str, str]] = []
        self.tokens_issued = 0
        self.delayed = threading.Event()  # set when a "delay" fault starts: a run is mid-fetch
        self.issued_tokens: list[str] = []  # every token ever handed out, for leak tests
        self.network = network or Network()
        self._client_of: dict[str, str] = {}  # token -> the client_id it was issued to
        self.in_flight: dict[str | None, int] = {}  # per client (None: token requests)
        self.peak_in_flight: dict[str | None, int] = {}
        self.peak_total = 0  # the most requests in flight at once, every client together
        self.rejected = 0  # requests answered 429 for passing max_in_flight
        self._link_free = 0.0  # monotonic time at which the shared link is next idle

    def transport(self) -> httpx.WSGITransport:
        return httpx.WSGITransport(app=self)

    def __call__(self, environ, start_response):
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING", "")
        self.requests.append((method, f"{path}?{query}" if query else path))
        client = self._client_of.get(environ.get("HTTP_AUTHORIZATION", "")[7:])
        if self._enter(client):
            try:
                if self.network.latency:
                    time.sleep(self.network.latency)
                status, headers, body = self._route(environ, method, path, query)
                self._transmit(len(body))
            finally:
                self._leave(client)
        else:
            status, headers, body = self._error(429, "too_many_requests")
            headers = [*headers, ("Retry-After", _seconds(self.network.retry_after))]
        headers = [*headers, ("Content-Length", str(len(body)))]
        start_response(f"{status} {_phrase(status)}", headers)
        return [body]

    def _enter(self, client: str | None) -> bool:
        """Count one more request in flight; False (a 429) if that passes the client's limit."""
        limit = self.network.max_in_flight
        with self._lock:
            now = self.in_flight.get(client, 0) + 1
            if limit is not None and client is not None and now > limit:
                self.rejected += 1
                return False
            self.in_flight[client] = now
            self.peak_in_flight[client] = max(self.peak_in_flight.get(client, 0), now)
            self.peak_total = max(self.peak_total, sum(self.in_flight.values()))
            return True

    def _leave(self, client: str | None) -> None:
        with self._lock:
            self.in_flight[client] -= 1

    def _transmit(self, size: int) -> None:
        """Hold the answer for as long as its bytes take on the shared link, queued behind
        every answer already on it: the bandwidth is the link's, not each request's."""
        if not self.network.mbit:
            return
        with self._lock:
            start = max(time.monotonic(), self._link_free)
            self._link_free = start + size * 8 / (self.network.mbit * 1e6)
            until = self._link_free
        time.sleep(max(0.0, until - time.monotonic()))

    def _route(self, environ, method: str, path: str, query: str):
        if not path.startswith(PREFIX + "/"):
            return self._error(404, "not_found")
        parts = path[len(PREFIX) + 1 :].split("/")
        if parts == ["oauth", "token"]:
            if method != "POST":
                return self._error(405, "method_not_allowed")
            return self._token(environ)
        if len(parts) == 4 and parts[:2] == ["v1", "schools"]:
            if method != "GET":
                return self._error(405, "method_not_allowed")
            return self._page(environ, parts[2], parts[3], parse_qs(query))
        return self._error(404, "not_found")

    def _credentials_ok(self, client_id: str | None, secret: str | None) -> bool:
        return (client_id, secret) == (self.client_id, self.client_secret)

    def _school_data(self, school_id: str) -> dict[str, list[dict]] | None:
        """The records of the school with this id, or None: no such school (404)."""
        return self.data if school_id == self.school_id else None

    def _token(self, environ):
        size = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(size).decode("utf-8", "replace")
        form = {key: values[0] for key, values in parse_qs(body).items()}
        if form.get("grant_type") != "client_credentials":
            return self._error(400, "unsupported_grant_type")
        if not self._credentials_ok(form.get("client_id"), form.get("client_secret")):
            return self._error(401, "invalid_client")
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens.add(token)
            self._client_of[token] = form["client_id"]
            self.issued_tokens.append(token)
            self.tokens_issued += 1
        return self._json(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600})

    def _page(self, environ, school_id: str, resource: str, query: dict):
        auth = environ.get("HTTP_AUTHORIZATION", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self._tokens:
            return self._error(401, "invalid_token")
        school = self._school_data(school_id)
        if school is None or resource not in RESOURCES:
            return self._error(404, "not_found")
        try:
            limit = int(query.get("limit", [self.default_limit])[0])
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_LIMIT:
            return self._error(400, "invalid_limit")
        cursor = query.get("cursor", [None])[0]
        offset = 0 if cursor is None else _offset(cursor)
        if offset is None:
            return self._error(400, "invalid_cursor")
        records = school.get(resource) or []
        end = offset + limit
        next_cursor = _cursor(end) if end < len(records) else None
        page = {
            "data": records[offset:end],
            "meta": {"next_cursor": next_cursor, "total": len(records)},
        }
        fault = self._take_fault(resource, offset // limit + 1)
        if fault is not None and fault.kind == "delay":  # a slow page, then a normal one
            self.delayed.set()
            time.sleep(fault.seconds)
            fault = None
        if fault is None:
            return 200, [("Content-Type", _JSON)], self._encode(page)
        return self._apply(fault, page, cursor)

    def _take_fault(self, resource: str, page: int) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self.faults):
                if fault.resource != resource or fault.page != page:
                    continue
                if fault.kind == "loop_cursor":
                    return fault
                if self._left[i] > 0:
                    self._left[i] -= 1
                    return fault
        return None

    def _apply(self, fault: Fault, page: dict, cursor: str | None):
        kind = fault.kind
        if kind == "status":
            headers = [("Content-Type", _JSON)]
            if fault.retry_after is not None:
                headers.append(("Retry-After", _seconds(fault.retry_after)))
            return fault.status, headers, self._encode(fault.body or _status_body(fault.status))
        if kind == "expire_token":
            with self._lock:
                self._tokens.clear()
            return self._error(401, "invalid_token")
        if kind == "not_json":
            return 200, [("Content-Type", "text/html")], b"<html>Service Unavailable</html>"
        if kind == "wrong_shape":
            return self._json(200, {"items": [], "next": None})
        if kind == "truncated":
            body = self._encode(page)
            return 200, [("Content-Type", _JSON)], body[: len(body) // 2]
        # loop_cursor: point back at this very page, so a client that trusts it never ends.
        page["meta"]["next_cursor"] = cursor if cursor is not None else _cursor(0)
        return self._json(200, page)

    def _json(self, status: int, obj):
        return status, [("Content-Type", _JSON)], self._encode(obj)

    def _error(self, status: int, code: str):
        return self._json(status, {"error": code})


def _seconds(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


def _status_body(status: int) -> dict:
    if status == 403:
        return {
            "error": "permission_not_granted",
            "permission": "Basic information about a student",
        }
    if status == 404:
        return {"error": "not_found"}
    return {"error": _phrase(status).lower().replace(" ", "_")}


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:  # a fault may use any status, known to http.HTTPStatus or not
        return "Error"


def _cursor(offset: int) -> str:
    """Opaque on purpose: a client that does arithmetic on cursors should break here."""
    return base64.urlsafe_b64encode(f"off:{offset}".encode()).decode().rstrip("=")


def _offset(cursor: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    tag, _, number = text.partition(":")
    if tag != "off" or not number.isdigit():
        return None
    return int(number)


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 256  # a fleet's clients connect many at once; 5 would drop SYNs


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args) -> None:  # noqa: A002 - the base class names it so
        pass


@contextlib.contextmanager
def serve(
    app, host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None
) -> Iterator[str]:
    """Serve `app` on loopback in a daemon thread and yield its base URL (ending in /api).

    Real sockets, so tests exercise what the in-process transport cannot: connection
    handling, retries over the wire, and vcrpy recording. With `tls` (a server context),
    it speaks HTTPS.
    """
    server = make_server(
        host, port, app, server_class=_ThreadingServer, handler_class=_QuietHandler
    )
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield f"{'https' if tls else 'http'}://{host}:{server.server_port}{PREFIX}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
