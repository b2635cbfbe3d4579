"""The HTTP client every connector shares: timeouts, bounded retries, Retry-After, redaction.

What is not MIS-specific lives here so the next connector gets it for free: which statuses
are transient, how long to wait, when to give up, and that no secret reaches a message.
"""

from __future__ import annotations

import ipaddress
import random
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from email.utils import parsedate_to_datetime

import httpx
import msgspec

from .errors import ConfigError, SourceError

TRANSIENT = frozenset({429, 500, 502, 503, 504})


class RetryPolicy(msgspec.Struct, kw_only=True, frozen=True):
    tries: int = 5  # attempts in all, the first included
    base: float = 0.5  # first back-off in seconds, doubled each try
    cap: float = 30.0  # longest single wait
    budget: float = 120.0  # longest total wait before the run fails


DEFAULT_RETRY = RetryPolicy()
SCHOOL_IN_FLIGHT = 4  # requests at once for one school's run: polite defaults
HOST_IN_FLIGHT = 32  # requests at once to one MIS host, every school of the process together


def check_base_url(url: str) -> None:
    """HTTPS in production; plain HTTP only to loopback (tests, the fake server)."""
    parsed = httpx.URL(url)
    if parsed.scheme == "https":
        return
    if parsed.scheme == "http" and _is_loopback(parsed.host):
        return
    raise ConfigError(f"base_url {url!r}: must be https:// (plain http only to loopback)")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_preload: dict = {}  # "thread": the preload, once started; "context": built, not yet claimed
_preload_lock = threading.Lock()
_per_thread = threading.local()


def tls_context() -> ssl.SSLContext:
    """This thread's TLS context, shared by every client the thread makes.

    httpx would build one per client, and building one loads the whole CA bundle (about
    17 ms): once per school for `--jobs` and workers. One per thread, not per process,
    because httpcore sets ALPN on the context at every connect, and OpenSSL must not see a
    context changed by one thread while another opens a connection with it. Built as httpx
    builds it, so SSL_CERT_FILE and SSL_CERT_DIR still apply.
    """
    context = getattr(_per_thread, "context", None)
    if context is None:
        thread = _preload.get("thread")
        if thread is not None:
            thread.join()
        with _preload_lock:
            context = _preload.pop("context", None)  # the first thread to ask takes it
        _per_thread.context = context = context or httpx.create_ssl_context()
    return context


def preload_tls() -> None:
    """Start building a TLS context in a thread, for the first thread that asks for one.

    Loading the CA bundle runs in OpenSSL with the GIL released, so while the caller goes on
    importing (SQLAlchemy) it costs the run no time on a second core: an unchanged re-run of
    a large school is about 5% faster. Once per process. Not a daemon: exiting mid-load
    would crash in OpenSSL, so an exit waits for the load to end.
    """
    with _preload_lock:
        if "thread" in _preload:
            return
        _preload["thread"] = thread = threading.Thread(target=_build, name="mis-sync-tls")
        thread.start()


def _build() -> None:
    try:
        context = httpx.create_ssl_context()
    except Exception:  # noqa: BLE001 - the client's own call raises it again, in the run's words
        return
    with _preload_lock:
        _preload["context"] = context


class InFlight:
    """At most `limit` requests at once, and none while a quiet spell lasts.

    One per MIS host for the whole process (host_limit), because the host's patience is
    shared: fifty schools that each keep four requests in flight are two hundred to one
    API, and its 429 + Retry-After to one of them is meant for all: the spell lasts while
    the told client sleeps (its own, patchable sleep; no clock of its own, so a test that
    patches the sleep waits nowhere). And one per client (a school's run), whose limit
    drops by one at each 429: a client that sends more than the API allows learns to send
    fewer, instead of spending its retries on a race it keeps losing.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.busy = 0
        self.quiet = 0  # clients sleeping out a Retry-After from this host
        self.per_second: float | None = None  # the host's rate limit, if one is set
        self.next_start = 0.0
        self._change = threading.Condition()

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._change:
            while self.busy >= self.limit or self.quiet:
                self._change.wait()
            self.busy += 1
        try:
            yield
        finally:
            with self._change:
                self.busy -= 1
                self._change.notify_all()

    @contextmanager
    def quiet_spell(self) -> Iterator[None]:
        with self._change:
            self.quiet += 1
        try:
            yield
        finally:
            with self._change:
                self.quiet -= 1
                self._change.notify_all()

    def fewer(self) -> None:
        with self._change:
            self.limit = max(1, self.limit - 1)

    def turn(self) -> float:
        """Seconds until the next request may start, at most `per_second` of them a second
        (0 when unlimited); the turn is taken, so the caller only has to wait it out."""
        if not self.per_second:
            return 0.0
        with self._change:
            now = time.monotonic()
            start = max(now, self.next_start)
            self.next_start = start + 1 / self.per_second
            return start - now


_hosts: dict[tuple[str, str, int | None], InFlight] = {}
_hosts_lock = threading.Lock()


def host_limit(base_url: str, limit: int, per_second: float | None = None) -> InFlight:
    """The process's limits for the host of `base_url`; two schools that configure one
    host differently get the smaller limits (the polite ones), whoever asked first."""
    url = httpx.URL(base_url)
    key = (url.scheme, url.host, url.port)
    with _hosts_lock:
        host = _hosts.setdefault(key, InFlight(limit))
        host.limit = min(host.limit, limit)
        if per_second:
            host.per_second = min(host.per_second or per_second, per_second)
        return host


class HttpClient:
    """An httpx.Client that retries transient failures within a bounded budget.

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
        self.sleep = sleep or (lambda seconds: time.sleep(seconds))  # patchable in tests
        self.secrets = {s for s in secrets if s}
        self.client = httpx.Client(
            base_url=base_url.rstrip("/"),
            transport=transport,
            verify=True if transport is not None else tls_context(),  # a transport has its own
            timeout=timeout,
            headers={"User-Agent": "mis-sync"},
        )

    def close(self) -> None:
        self.client.close()

    def add_secret(self, value: str) -> None:
        """Register a value (a token) that must never appear in a message."""
        self.secrets.add(value)

    def redact(self, text: str) -> str:
        for secret in tuple(self.secrets):  # a copy: another thread may add a token
            text = text.replace(secret, "***")
        return text

    def request(self, method: str, url: str, *, what: str, **kwargs) -> httpx.Response:
        """Send, retrying 429/5xx and transport errors; `what` names the call in messages."""
        started = time.monotonic()
        waited = 0.0
        for attempt in range(1, self.retry.tries + 1):
            try:
                response = self._send(method, url, **kwargs)
            except httpx.TransportError as exc:
                response, problem = None, f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code not in TRANSIENT:
                    return response
                problem = f"HTTP {response.status_code}"
            delay = self._delay(attempt, response)
            if attempt == self.retry.tries or waited + delay > self.retry.budget:
                elapsed = time.monotonic() - started
                raise SourceError(
                    self.redact(
                        f"{what}: gave up after {attempt} tries over {elapsed:.1f}s"
                        f" (last: {problem})"
                    ),
                    transient=True,
                )
            if response is not None and response.status_code == 429:
                self.in_flight.fewer()
            told = response is not None and "Retry-After" in response.headers
            with self.host.quiet_spell() if told else nullcontext():  # meant for every school
                self.sleep(delay)
            waited += delay
        raise AssertionError("unreachable")

    def _send(self, method: str, url: str, **kwargs) -> httpx.Response:
        """One request, within this client's and its host's limits, at its turn under the
        host's rate, and not while the host has asked for quiet."""
        with self.in_flight.slot(), self.host.slot():
            wait = self.host.turn()
            if wait > 0:
                self.sleep(wait)
            return self.client.request(method, url, **kwargs)

    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        """Retry-After when the server sends one, else exponential back-off with jitter."""
        header = response.headers.get("Retry-After") if response is not None else None
        if header:
            seconds = _retry_after_seconds(header)
            if seconds is not None:
                return max(0.0, seconds)
        backoff = min(self.retry.cap, self.retry.base * 2 ** (attempt - 1))
        return backoff * (0.5 + random.random() / 2)


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
