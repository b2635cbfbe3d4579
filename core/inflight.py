"""How many requests may be in flight at once: per client (a school's run) and per MIS host
(every school of the process together), with the quiet spell a 429 + Retry-After asks for
and an optional rate per second. Used by core/http.py's HttpClient.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx


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
