"""Requests in flight: a school's resources are fetched at once, never more at once than its
limit and its host's, and a host that answers 429 + Retry-After hears nothing from any
school of the process until that time has passed.

The fake counts requests in flight per client and in all (fake.Network adds the latency
that makes them overlap); every test here fails if a limit is passed.
"""

from __future__ import annotations

import threading
import time

import pytest

from mis_sync.connectors.integris.fake import Fault, Network, serve
from mis_sync.core import pipeline
from mis_sync.core.config import Config
from mis_sync.core.store import Store

from .support import CLIENT_ID, SMALL, fake, options, small

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def store(tmp_path):
    """What is tested here is HTTP; storing is tested on both databases in test_fleet.py."""
    s = Store(f"sqlite:///{tmp_path / 'mis-sync.db'}")
    yield s
    s.close()


class Arrivals:
    """WSGI middleware: when each request reached the server, and what it was answered."""

    def __init__(self, app) -> None:
        self.app = app
        self.seen: list[tuple[float, str, str]] = []  # (arrived, path, status)
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        arrived = time.monotonic()

        def start(status, headers, *rest):
            with self._lock:
                self.seen.append((arrived, environ.get("PATH_INFO", ""), status))
            return start_response(status, headers, *rest)

        return self.app(environ, start)


def run(store, base_url: str, keys: list[str], **school_options) -> dict[str, dict]:
    config = Config(schools={k: options(base_url=base_url, **school_options) for k in keys})
    results = pipeline.run_schools(store, config, keys, connector="integris", jobs=len(keys))
    return {r["school"]: r for r in results}


def test_one_school_keeps_its_limit_and_uses_it(store):
    """page_limit 1: two pages per resource, twelve requests a school could send at once."""
    server = fake(network=Network(latency=0.04, max_in_flight=2))
    with serve(server) as url:
        outcome = run(store, url, ["oak"], max_in_flight=2, page_limit=1)
    assert outcome["oak"]["status"] == "ok"
    assert server.rejected == 0  # the fake answers 429 to a third request in flight
    assert server.peak_in_flight[CLIENT_ID] == 2  # and two at once did happen: concurrent


def test_schools_together_keep_the_hosts_limit(store):
    server = fake(network=Network(latency=0.04))
    with serve(server) as url:
        outcome = run(store, url, ["ash", "elm", "oak"], host_max_in_flight=3, page_limit=1)
    assert {r["status"] for r in outcome.values()} == {"ok"}
    assert server.peak_total == 3  # each school alone may send 4: the host's 3 held


def test_schools_together_keep_the_hosts_rate(store):
    """At most 20 requests a second to the host, from two schools together."""
    server = fake()
    arrivals = Arrivals(server)
    with serve(arrivals) as url:
        outcome = run(store, url, ["ash", "oak"], host_max_per_second=20, page_limit=1)
    assert {r["status"] for r in outcome.values()} == {"ok"}
    times = sorted(t for t, _, _ in arrivals.seen)
    assert len(times) >= 20
    for i in range(len(times) - 10):  # any eleven requests span at least ten turns
        assert times[i + 10] - times[i] >= 10 / 20 - 0.05


def test_an_api_limit_below_ours_costs_429s_not_the_run(store):
    """A client that sends more than the API allows is told so, waits, and still ends."""
    server = fake(network=Network(latency=0.03, max_in_flight=1, retry_after=0.05))
    with serve(server) as url:
        outcome = run(store, url, ["oak"], max_in_flight=4, page_limit=1)
    assert outcome["oak"]["status"] == "ok"
    assert server.rejected > 0
    assert server.peak_in_flight[CLIENT_ID] == 1


def test_a_429_quiets_the_host_for_every_school_until_retry_after(store):
    """Twelve pages of students a school at 50 ms each: the others are still fetching."""
    wait = 1.5
    pupil = SMALL["students"][0]
    students = [{**pupil, "StudentID": f"48{n:02}"} for n in range(12)]
    server = fake(
        small(students=students),
        faults=[Fault(kind="status", status=429, retry_after=wait, resource="students", page=2)],
        network=Network(latency=0.05),
    )
    arrivals = Arrivals(server)
    with serve(arrivals) as url:
        outcome = run(store, url, ["ash", "elm", "oak"], page_limit=1)
    assert {r["status"] for r in outcome.values()} == {"ok"}
    [told] = [t for t, _, status in arrivals.seen if status.startswith("429")]
    # after the 429 reached its client (slack for a loaded host), nobody asks until it is up
    quiet = [t for t, _, _ in arrivals.seen if told + 0.4 < t < told + wait - 0.1]
    assert quiet == []
    assert any(t >= told + wait - 0.1 for t, _, _ in arrivals.seen)  # and then they go on
