"""core/tls.py's TLS context (what core/http.py's clients use): one per thread, built once, on a
thread of its own when preloaded."""

from __future__ import annotations

import ssl
import subprocess
import sys
import threading

import httpx
import pytest

from mis_sync.core import http, tls


@pytest.fixture
def fresh_tls(monkeypatch):
    """Nothing built or preloaded yet, and a counting stand-in for httpx's builder."""
    built: list[str] = []

    def build():
        built.append(threading.current_thread().name)
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)

    monkeypatch.setattr(tls, "_preload", {})
    monkeypatch.setattr(tls, "_per_thread", threading.local())
    monkeypatch.setattr(http.httpx, "create_ssl_context", build)
    return built


def _context_of(client: http.HttpClient) -> ssl.SSLContext:
    return client.client._transport._pool._ssl_context


def test_a_threads_clients_share_one_context(fresh_tls):
    one = http.HttpClient("http://127.0.0.1:9")
    two = http.HttpClient("https://datashare.example.org")
    try:
        assert _context_of(one) is _context_of(two) is tls.tls_context()
        assert fresh_tls == ["MainThread"]
    finally:
        one.close()
        two.close()


def test_each_thread_has_its_own_context(fresh_tls):
    """httpcore changes a context at each connect: two threads must not share one."""
    mine = tls.tls_context()
    theirs = []
    worker = threading.Thread(target=lambda: theirs.append(tls.tls_context()), name="worker")
    worker.start()
    worker.join()
    assert theirs[0] is not mine
    assert fresh_tls == ["MainThread", "worker"]


def test_preload_builds_one_context_on_its_thread_for_the_first_asker(fresh_tls):
    tls.preload_tls()
    context = tls.tls_context()  # waits for the preload
    tls.preload_tls()  # once per process: no second thread, no second build
    assert tls.tls_context() is context
    assert fresh_tls == ["mis-sync-tls"]


def test_a_failed_preload_is_silent_and_the_client_says_why(monkeypatch):
    uncaught = []
    monkeypatch.setattr(threading, "excepthook", uncaught.append)
    monkeypatch.setattr(tls, "_preload", {})
    monkeypatch.setattr(tls, "_per_thread", threading.local())

    def broken():
        raise FileNotFoundError("no CA bundle")

    monkeypatch.setattr(http.httpx, "create_ssl_context", broken)
    tls.preload_tls()
    with pytest.raises(FileNotFoundError):
        http.HttpClient("https://datashare.example.org")
    assert uncaught == []  # a run that never opens TLS (a file connector) prints nothing


def test_a_given_transport_needs_no_context(fresh_tls):
    client = http.HttpClient("http://127.0.0.1:9", transport=httpx.MockTransport(lambda r: None))
    client.close()
    assert fresh_tls == []


def test_exit_waits_for_a_preload_that_is_still_loading():
    """A daemon thread inside OpenSSL at exit can crash the process; ours is waited for."""
    script = (
        "import time\n"
        "from mis_sync.core import tls\n"
        "tls.httpx.create_ssl_context = lambda: (time.sleep(0.3), print('built'))\n"
        "tls.preload_tls()\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (0, "built\n")
