"""core/http.py: which failures are retried. Only the network's and the server's faults are
worth another try; what fails on this side fails at once, and is not marked transient (so a
worker does not re-queue it either)."""

from __future__ import annotations

import socket

import pytest

from mis_sync.connectors.integris.fake import FakeDatashare, Fault, serve
from mis_sync.core.errors import SourceError
from mis_sync.core.http import HttpClient, path_segment
from mis_sync.core.limits import DEFAULT_LIMITS, Limits


@pytest.fixture
def sleeps(monkeypatch):
    waited: list[float] = []
    monkeypatch.setattr("mis_sync.core.http.time.sleep", waited.append)
    return waited


def get(base_url: str, limits: Limits = DEFAULT_LIMITS, **kwargs):
    with HttpClient(base_url, limits=limits) as http:
        return http.request(
            "GET", "/api/v1/schools/1001/students", what="students page 1", **kwargs
        )


@pytest.mark.parametrize(
    "value, says",
    [
        (
            "Bearer abcdefgh\r\nX-Injected: yes",
            "cannot be sent as HTTP (a header value holds a line break",
        ),
        ("Bearer tökén-abcdefgh", "a header value holds characters HTTP cannot send"),
    ],
    ids=["crlf", "not-ascii"],
)
def test_a_header_that_cannot_be_sent_fails_at_once(sleeps, value, says):
    server = FakeDatashare({})
    with serve(server) as base_url, pytest.raises(SourceError) as failed:
        get(base_url.removesuffix("/api"), headers={"Authorization": value})
    assert says in str(failed.value)
    assert str(failed.value).startswith("students page 1: ")
    assert not failed.value.transient
    assert sleeps == []
    assert server.requests == []


def test_a_refused_connection_is_retried_and_transient(sleeps):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SourceError) as failed:
        get(f"http://127.0.0.1:{port}")
    assert "gave up after 5 tries" in str(failed.value)
    assert failed.value.transient
    assert len(sleeps) == 4


def test_a_retry_after_past_the_run_deadline_gives_up_at_once(sleeps):
    server = FakeDatashare(
        {}, faults=[Fault(kind="status", status=503, retry_after=60, resource="students")]
    )
    server._tokens.add("t")  # a data call needs a token the fake knows
    with serve(server) as base_url, pytest.raises(SourceError) as failed:
        get(
            base_url.removesuffix("/api"),
            Limits(run_deadline=30),
            headers={"Authorization": "Bearer t"},
        )
    assert "gave up after 1 tries over " in str(failed.value)
    assert str(failed.value).endswith(
        "(last: HTTP 503); waiting 60.0s more would pass run_deadline = 30s"
    )
    assert sleeps == []  # no wait that the run's deadline would cut short


@pytest.mark.parametrize(
    "value, segment",
    [
        ("1234", "1234"),
        ("../../oauth/token#", "%2E%2E%2F%2E%2E%2Foauth%2Ftoken%23"),
        ("..", "%2E%2E"),
    ],
)
def test_a_path_segment_stays_one_segment(value, segment):
    assert path_segment(value) == segment


@pytest.mark.timeout(20)
def test_the_size_cap_holds_before_the_memory_is_spent():
    """A 48 MB gzip bomb against a 2 MB cap: the memory held never nears the bomb's size."""
    import tracemalloc

    from mis_sync.connectors.integris.hostile import HostileDatashare

    server = FakeDatashare({"students": []})
    server._tokens.add("t")
    bomb = HostileDatashare(server, gzip_bomb=48 * 1024 * 1024)
    bomb.warm()
    with serve(bomb) as base_url, pytest.raises(SourceError, match="max_response_mb = 2"):
        tracemalloc.start()
        try:
            get(
                base_url.removesuffix("/api"),
                Limits(max_response_mb=2),
                params={"limit": 500},
                headers={"Authorization": "Bearer t"},
            )
        finally:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    assert peak < 12 * 1024 * 1024
