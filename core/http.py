"""The HTTP client every connector shares: timeouts, deadlines, caps, bounded retries,
Retry-After, redaction.

What is not MIS-specific lives here so the next connector gets it for free: which statuses
are transient, how long to wait, when to give up, and that no secret reaches a message.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import random
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from email.utils import parsedate_to_datetime
from urllib.parse import quote

import httpx
import msgspec

from . import redaction
from .config import CREDENTIALS, without_credentials
from .errors import ConfigError, SourceError
from .inflight import InFlight, host_limit
from .limits import DEFAULT_LIMITS, Limits
from .redaction import Redactor
from .tls import tls_context

# httpcore's debug log prints every response's headers, a token answer's among them, before
# the client has read the token from its body, so no redactor can know it yet: kept off.
# httpx's own line per request (at -v) stays, redacted like every log record.
logging.getLogger("httpcore").setLevel(logging.INFO)

TRANSIENT = frozenset({429, 500, 502, 503, 504})
_SLACK = 0.05  # seconds: a read given the time left may time out this much before the deadline


class RetryPolicy(msgspec.Struct, kw_only=True, frozen=True):
    tries: int = 5  # attempts in all, the first included
    base: float = 0.5  # first back-off in seconds, doubled each try
    cap: float = 30.0  # longest single wait
    budget: float = 120.0  # longest total wait before the run fails


DEFAULT_RETRY = RetryPolicy()
SCHOOL_IN_FLIGHT = 4  # requests at once for one school's run: polite defaults
HOST_IN_FLIGHT = 32  # requests at once to one MIS host, every school of the process together


def check_base_url(url: str) -> None:
    """HTTPS in production; plain HTTP only to loopback (tests, the fake server).

    A user name or password in the URL is refused by the config's own rule
    (config.without_credentials), which every command applies to the config file first;
    this is the same rule, for a client made from elsewhere (a connector's tests, a script).
    """
    shown = without_credentials(url)
    if shown is not None:
        raise ConfigError(f"base_url {shown!r}: {CREDENTIALS}")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ConfigError(f"base_url: not a URL ({exc})") from None
    if parsed.scheme == "https":
        return
    if parsed.scheme == "http" and _is_loopback(parsed.host):
        return
    # named by its scheme and host only: what else the string holds may be a secret
    given = f"{parsed.scheme}://{parsed.host}" if parsed.scheme else "a URL with no scheme"
    raise ConfigError(f"base_url {given!r}: must be https:// (plain http only to loopback)")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Reply(msgspec.Struct, frozen=True):
    """A response read whole, within the caps: status, headers and the decoded body."""

    status_code: int
    headers: httpx.Headers
    content: bytes


class HttpClient:
    """An httpx.Client that retries transient failures within a bounded budget, reads every
    body by streaming it within a size cap and a deadline, and redacts every secret it knows.

    Use it as a context manager: inside the block its redactor is the thread's (log records,
    cassettes), and an error leaving the block has every secret taken out of its message.

    Thread-safe: a connector may send several requests at once from threads of its own, at
    most `max_in_flight` for this client, and never more than the host's limit for every
    client of the process together (InFlight).
    """

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy = DEFAULT_RETRY,
        limits: Limits = DEFAULT_LIMITS,
        sleep: Callable[[float], None] | None = None,
        secrets: tuple[str, ...] = (),
        max_in_flight: int = SCHOOL_IN_FLIGHT,
        host_max_in_flight: int = HOST_IN_FLIGHT,
        host_max_per_second: float | None = None,
    ) -> None:
        check_base_url(base_url)
        self.host = host_limit(base_url, host_max_in_flight, host_max_per_second)
        self.in_flight = InFlight(max_in_flight)
        self.retry = retry
        self.limits = limits
        self.timeout = timeout
        self.sleep = sleep or (lambda seconds: time.sleep(seconds))  # patchable in tests
        self.redactor = Redactor(secrets)
        self.run_ends = time.monotonic() + limits.run_deadline  # the fetch starts now
        self._stack = contextlib.ExitStack()
        self.client = httpx.Client(
            base_url=base_url.rstrip("/"),
            transport=transport,
            verify=True if transport is not None else tls_context(),  # a transport has its own
            timeout=timeout,
            headers={"User-Agent": "mis-sync"},
        )

    def __enter__(self) -> HttpClient:
        self._stack.callback(self.close)
        self._stack.enter_context(redaction.scope(self.redactor))
        return self

    def __exit__(self, *exc) -> bool | None:
        return self._stack.__exit__(*exc)

    def close(self) -> None:
        self.client.close()

    def add_secret(self, value: str) -> None:
        """Register a value (a secret, a token) that must never appear in any output."""
        self.redactor.add(value)

    def redact(self, text: str) -> str:
        return self.redactor(text)

    def request(self, method: str, url: str, *, what: str, **kwargs) -> Reply:
        """Send, retrying 429/5xx and network errors; `what` names the call in messages.

        Only the network's and the server's faults are retried, and marked transient when
        they last: a failure on this side (a header value that cannot be sent, a TLS
        certificate that cannot be verified) fails at once, since no retry can mend it.
        """
        try:
            return self._request(method, url, what, kwargs)
        except SourceError as exc:
            raise self.redactor.exception(exc) from None

    def _request(self, method: str, url: str, what: str, kwargs: dict) -> Reply:
        started = time.monotonic()
        waited = 0.0
        for attempt in range(1, self.retry.tries + 1):
            self._check_run_deadline(what)
            try:
                reply = self._send(method, url, what, kwargs)
            except httpx.TransportError as exc:
                fatal = _not_worth_retrying(exc)
                if fatal:
                    raise SourceError(f"{what}: {fatal}") from None
                reply, problem = None, f"{type(exc).__name__}: {exc}"
            else:
                if reply.status_code not in TRANSIENT:
                    return reply
                problem = f"HTTP {reply.status_code}"
            delay = self._delay(attempt, reply)
            past_deadline = time.monotonic() + delay > self.run_ends
            if attempt == self.retry.tries or waited + delay > self.retry.budget or past_deadline:
                elapsed = time.monotonic() - started
                why = (
                    f"; waiting {delay:.1f}s more would pass run_deadline ="
                    f" {self.limits.run_deadline:g}s"
                    if past_deadline and attempt < self.retry.tries
                    else ""
                )
                raise SourceError(
                    f"{what}: gave up after {attempt} tries over {elapsed:.1f}s"
                    f" (last: {problem}){why}",
                    transient=True,
                )
            if reply is not None and reply.status_code == 429:
                self.in_flight.fewer()
            told = reply is not None and "Retry-After" in reply.headers
            with self.host.quiet_spell() if told else nullcontext():  # meant for every school
                self.sleep(delay)
            waited += delay
        raise AssertionError("unreachable")

    def _check_run_deadline(self, what: str, slack: float = 0.0) -> None:
        if time.monotonic() > self.run_ends - slack:
            raise SourceError(
                f"{what}: the run passed run_deadline = {self.limits.run_deadline:g}s"
                " before the source had sent everything; stopped, nothing stored",
                transient=True,
            )

    def _past_deadline(self, what: str) -> None:
        """Raise the deadline that has passed: the run's if it has, else the request's."""
        self._check_run_deadline(what, slack=_SLACK)
        raise SourceError(
            f"{what}: the response took longer than request_deadline ="
            f" {self.limits.request_deadline:g}s; stopped, nothing stored",
            transient=True,
        )

    def _send(self, method: str, url: str, what: str, kwargs: dict) -> Reply:
        """One request, within this client's and its host's limits, at its turn under the
        host's rate, and not while the host has asked for quiet (InFlight).

        httpx's timeout bounds each read, not the request: a server may trickle a byte per
        read for hours. So the request has a deadline of its own, checked after every chunk
        (and no read is given more time than is left when the request starts: httpcore fixes
        a read's timeout for the whole body), and the body's size is counted
        as decoded, so a small gzip page that inflates to gigabytes stops at the cap.
        """
        with self.in_flight.slot(), self.host.slot():
            wait = self.host.turn()
            if wait > 0:
                self.sleep(wait)
            return self._stream(method, url, what, kwargs)

    def _stream(self, method: str, url: str, what: str, kwargs: dict) -> Reply:
        """The request itself: its body streamed in and checked as it comes."""
        now = time.monotonic()
        ends = min(now + self.limits.request_deadline, self.run_ends)
        try:
            request = self.client.build_request(
                method, url, timeout=max(0.001, min(self.timeout, ends - now)), **kwargs
            )
        except UnicodeEncodeError:
            raise SourceError(
                f"{what}: a header value holds characters HTTP cannot send (a token or an"
                " ID that is not ASCII); not retried"
            ) from None
        try:
            response = self.client.send(request, stream=True)
            response.stream = _SmallPieces(response.stream)
            try:
                body = self._body(response, what, ends)
            finally:
                response.close()
        except httpx.TimeoutException:
            if time.monotonic() < ends - _SLACK:
                raise  # a read timed out before the deadline: the network's fault, retried
            self._past_deadline(what)
        return Reply(response.status_code, response.headers, body)

    def _body(self, response: httpx.Response, what: str, ends: float) -> bytes:
        cap = self.limits.max_response_bytes
        pieces: list[bytes] = []  # joined once at the end: no copy on every growth
        size = 0
        try:
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > cap:  # checked before the chunk is kept
                    raise SourceError(
                        f"{what}: the response is larger than max_response_mb ="
                        f" {self.limits.max_response_mb:g} once decoded; stopped reading,"
                        " nothing stored"
                    )
                pieces.append(chunk)
                if time.monotonic() > ends:
                    self._past_deadline(what)
        except httpx.DecodingError:
            raise SourceError(
                f"{what}: the body cannot be decoded as its Content-Encoding says"
            ) from None
        return b"".join(pieces)

    def _delay(self, attempt: int, response: Reply | None) -> float:
        """Retry-After when the server sends one, else exponential back-off with jitter."""
        header = response.headers.get("Retry-After") if response is not None else None
        if header:
            seconds = _retry_after_seconds(header)
            if seconds is not None:
                return max(0.0, seconds)
        backoff = min(self.retry.cap, self.retry.base * 2 ** (attempt - 1))
        return backoff * (0.5 + random.random() / 2)


class _SmallPieces(httpx.SyncByteStream):
    """A body stream cut into pieces of at most PIECE bytes before httpx decodes them.

    httpx inflates each network read whole: 64 KiB of gzip can become 64 MB in one step,
    before the size cap can look. Fed small pieces, one step inflates to at most about a
    thousand times PIECE (4 MB), so the cap holds within that.
    """

    PIECE = 4 * 1024

    def __init__(self, stream: httpx.SyncByteStream) -> None:
        self.stream = stream

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.stream:
            for start in range(0, len(chunk), self.PIECE):
                yield chunk[start : start + self.PIECE]

    def close(self) -> None:
        self.stream.close()


def _not_worth_retrying(exc: httpx.TransportError) -> str | None:
    """Why a transport error cannot be mended by trying again, or None if it may be."""
    if isinstance(exc, httpx.LocalProtocolError):
        return (
            "the request cannot be sent as HTTP (a header value holds a line break or a"
            " character HTTP forbids, such as a token the server handed out); not retried"
        )
    if isinstance(exc, httpx.UnsupportedProtocol):
        return f"{exc}; not retried"
    cause: BaseException | None = exc
    seen: set[int] = set()
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, ssl.SSLCertVerificationError):
            return (
                "the server's TLS certificate cannot be verified"
                f" ({cause.verify_message or cause.reason}); not retried. If the server uses a"
                " private certificate authority, point SSL_CERT_FILE at its certificate"
            )
        if isinstance(cause, ssl.SSLError) and not isinstance(
            cause, ssl.SSLEOFError | ssl.SSLZeroReturnError
        ):
            return f"the TLS handshake failed ({cause.reason or cause}); not retried"
        cause = cause.__cause__ or cause.__context__
    return None


def path_segment(value: str) -> str:
    """`value` escaped as one URL path segment: a `/`, `?`, `#` or `..` in an ID stays in it.

    IDs from a config or a source go into paths; unescaped, a school_id of
    `../../oauth/token#` would reach another endpoint. Dots are escaped too, since a
    segment of `..` alone is removed by URL normalisation.
    """
    return quote(value, safe="").replace(".", "%2E")


def _retry_after_seconds(header: str) -> float | None:
    try:
        return float(header)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return when.timestamp() - time.time()
