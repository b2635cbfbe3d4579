"""One redactor per run, knowing every secret and token the run holds, for every way out.

A server may echo a token or a secret anywhere: an error body, a header, a cursor. So
redaction does not trust shapes; it replaces the values themselves, in every form they take
on the way out (as sent, escaped by repr or JSON, form- or URL-encoded, each line of a value
that holds a line break), wherever text leaves a run:

- messages: the error a run ends with (`Redactor.exception`, applied where the HTTP client's
  scope ends, so `runs.message`, stderr and `--json` only ever see the redacted text);
- log records of every logger, httpx's and httpcore's included (a log-record factory,
  installed once, redacts with the redactor active in the logging thread);
- cassettes (core/cassettes.py asks for the active redactor while it records).

The active redactor is a context variable, so runs of different schools on different threads
(`--jobs`) each redact their own secrets. Values shorter than MIN_LENGTH are not redacted: a
one-character token would garble every message, and is no secret worth the name.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import threading
from collections.abc import Iterator
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_LENGTH = 6

_active: contextvars.ContextVar[Redactor | None] = contextvars.ContextVar(
    "mis_sync_redactor", default=None
)
_factory_lock = threading.Lock()
_factory_installed = False


class Redactor:
    """The secrets of one run, and their replacement in any text."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        self._forms: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        """Register a value (a secret, a token) that must never appear in any output."""
        if not secret:
            return
        forms = {
            secret,
            repr(secret)[1:-1],
            json.dumps(secret)[1:-1],
            json.dumps(secret, ensure_ascii=False)[1:-1],
            quote(secret, safe=""),
            quote_plus(secret, safe=""),
            repr(secret.encode("utf-8", "backslashreplace"))[2:-1],
        }
        forms.update(secret.splitlines())  # a token with CRLF may be logged a line at a time
        # a new set, not an update in place: another thread may be redacting with the old one
        self._forms = self._forms | {f for f in forms if len(f) >= MIN_LENGTH}

    def __call__(self, text: str) -> str:
        if not self._forms or not text:
            return text
        for form in sorted(self._forms, key=len, reverse=True):  # longest first: no leftovers
            if form in text:
                text = text.replace(form, MASK)
        return text

    def exception(self, exc: BaseException) -> BaseException:
        """The same error with every secret taken out of its message (the error itself if clean).

        mis-sync's own errors are rebuilt with their type and flags; any other error is
        rebuilt as a RuntimeError naming its type, so an internal error says what it was
        without the secret it carried.
        """
        from .errors import MisSyncError

        text = str(exc)
        clean = self(text)
        if clean == text:
            return exc
        if isinstance(exc, MisSyncError):
            copy = type(exc).__new__(type(exc))
            copy.__dict__.update(exc.__dict__)
            copy.args = (clean,)
            return copy
        return RuntimeError(f"{type(exc).__name__}: {clean}")


def active() -> Redactor | None:
    """The redactor of the run going on in this thread, if any."""
    return _active.get()


def redact(text: str) -> str:
    """`text` with the secrets of this thread's run taken out."""
    redactor = _active.get()
    return redactor(text) if redactor is not None else text


@contextlib.contextmanager
def scope(redactor: Redactor) -> Iterator[Redactor]:
    """Make `redactor` this thread's for the block; an error leaving the block is redacted."""
    _install_log_factory()
    token = _active.set(redactor)
    try:
        yield redactor
    except BaseException as exc:
        clean = redactor.exception(exc)
        if clean is exc:
            raise
        raise clean from None
    finally:
        _active.reset(token)


def _install_log_factory() -> None:
    """Redact every log record as it is made, whoever logs it and wherever it is handled.

    A factory rather than a filter: a filter on a logger misses its children's records
    (httpcore logs as httpcore.http11, httpcore.connection), and a filter on a handler
    misses handlers that mis-sync did not install (a Celery worker's, a host program's).
    """
    global _factory_installed
    with _factory_lock:
        if _factory_installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args, **kwargs) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            redactor = _active.get()
            if redactor is not None:
                _redact_record(record, redactor)
            return record

        logging.setLogRecordFactory(factory)
        _factory_installed = True


def _redact_record(record: logging.LogRecord, redactor: Redactor) -> None:
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a bad format string is logging's to report, not ours
        return
    clean = redactor(message)
    if clean != message:
        record.msg, record.args = clean, ()
    if record.exc_info and record.exc_info[1] is not None:
        formatted = logging.Formatter().formatException(record.exc_info)
        clean_exc = redactor(formatted)
        if clean_exc != formatted:
            record.exc_info, record.exc_text = None, clean_exc
