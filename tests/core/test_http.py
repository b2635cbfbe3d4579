"""core/http.py's TLS context: one per process, built once, on a thread when preloaded."""

from __future__ import annotations

import ssl
import threading

import httpx
import pytest

from mis_sync.core import http


@pytest.fixture
def fresh_tls(monkeypatch):
    """An empty cache and a counting stand-in for httpx's builder."""
    built: list[str] = []

    def build():
        built.append(threading.current_thread().name)
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)

    monkeypatch.setattr(http, "_tls", {})
    monkeypatch.setattr(http.httpx, "create_ssl_context", build)
    return built


def _context_of(client: http.HttpClient) -> ssl.SSLContext:
    return client.client._transport._pool._ssl_context


def test_clients_share_one_context(fresh_tls):
    one = http.HttpClient("http://127.0.0.1:9")
    two = http.HttpClient("https://datashare.example.org")
    try:
        assert _context_of(one) is _context_of(two) is http.tls_context()
        assert fresh_tls == ["MainThread"]
    finally:
        one.close()
        two.close()


def test_preload_builds_it_on_a_thread_once(fresh_tls):
    http.preload_tls()
    for thread in threading.enumerate():
        if thread.name == "mis-sync-tls":
            thread.join()
    context = http.tls_context()
    http.preload_tls()  # already built: no second thread, no second build
    assert http.tls_context() is context
    assert fresh_tls == ["mis-sync-tls"]


def test_a_given_transport_needs_no_context(fresh_tls):
    client = http.HttpClient("http://127.0.0.1:9", transport=httpx.MockTransport(lambda r: None))
    client.close()
    assert fresh_tls == []
