"""One TLS context per thread, built ahead of need: loading the CA bundle is the costliest
step of opening an HTTPS client, and it need not be paid once per school.

Apart from core/http.py so that `mis-sync run` can start the preload (cli/running.py) before
it imports anything heavy, and so that this state (a thread, a lock, a per-thread slot)
sits with the two functions that use it.
"""

from __future__ import annotations

import ssl
import threading

import httpx

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
