"""core/redaction.py: one redactor per run, for messages, log records and cassettes; and the
config file's warning when a password sits in a file every user can read."""

from __future__ import annotations

import logging
import os
import threading

import pytest

from mis_sync.core import redaction
from mis_sync.core.config import load_config
from mis_sync.core.errors import SourceError
from mis_sync.core.redaction import Redactor

TOKEN = "tok-abcdef-123456"


@pytest.mark.parametrize(
    "shown",
    [
        TOKEN,
        f"'{TOKEN}'",
        "p%40ss+word%2F1",  # p@ss word/1, form-encoded
        "p%40ss%20word%2F1",  # and URL-encoded
        "line\\r\\nbreak-token",  # the repr of a token holding CRLF, as h11 would show it
        "break-token",  # its second line, logged on a line of its own
    ],
)
def test_every_form_of_a_secret_is_taken_out(shown):
    redact = Redactor((TOKEN, "p@ss word/1", "line\r\nbreak-token"))
    assert redact(f"before {shown} after") in {"before *** after", "before '***' after"}


def test_a_value_too_short_to_be_a_secret_does_not_garble_text():
    redact = Redactor(("a", "tok"))
    assert redact("a token") == "a token"


def test_an_error_keeps_its_type_and_flags_with_the_secret_taken_out():
    redactor = Redactor((TOKEN,))
    with pytest.raises(SourceError) as failed, redaction.scope(redactor):
        raise SourceError(f"students page 1: permission {TOKEN!r}", transient=True)
    assert str(failed.value) == "students page 1: permission '***'"
    assert failed.value.transient and failed.value.exit_code == 1
    with pytest.raises(RuntimeError, match=r"^KeyError: '\*\*\*'$"), redaction.scope(redactor):
        raise KeyError(TOKEN)


def test_log_records_of_any_logger_are_redacted_in_the_runs_thread_only(caplog):
    caplog.set_level(logging.DEBUG)
    seen_elsewhere = []

    def other_thread():
        logging.getLogger("httpx").info("other run: %s", "tok-of-another-run-99")
        seen_elsewhere.append(caplog.records[-1].getMessage())

    with redaction.scope(Redactor((TOKEN, "tok-of-another-run-99"))):
        logging.getLogger("httpx").info("HTTP Request: GET /x?cursor=%s", TOKEN)
        logging.getLogger("a.library.child").debug("headers %r", [(b"X-Echo", TOKEN.encode())])
        try:
            raise ValueError(TOKEN)
        except ValueError:
            logging.getLogger("mis_sync").exception("failed")
        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join()
    logging.getLogger("httpx").info("after the run: %s", TOKEN)
    text = "\n".join(caplog.text.splitlines()[:-1])
    assert TOKEN not in text
    assert "cursor=***" in text and "(b'X-Echo', b'***')" in text
    assert "ValueError: ***" in text
    # another thread has its own run, and this run's redactor is not its
    assert seen_elsewhere == ["other run: tok-of-another-run-99"]
    assert caplog.records[-1].getMessage() == f"after the run: {TOKEN}"


def write(tmp_path, database: str, mode: int):
    path = tmp_path / "mis-sync.toml"
    path.write_text(f'database = "{database}"\n')
    os.chmod(path, mode)
    return path


@pytest.mark.parametrize(
    "database, mode, warned",
    [
        ("postgresql://sync:pw-secret-1@127.0.0.1/db", 0o644, True),
        ("postgresql://sync:pw-secret-1@127.0.0.1/db", 0o640, False),
        ("postgresql://sync@127.0.0.1/db", 0o644, False),
    ],
)
def test_a_world_readable_config_with_a_database_password_is_warned_of(
    tmp_path, caplog, database, mode, warned
):
    caplog.set_level(logging.WARNING, logger="mis_sync.config")
    path = write(tmp_path, database, mode)
    load_config(path)
    messages = [r.getMessage() for r in caplog.records if r.name == "mis_sync.config"]
    assert messages == (
        [
            f"{path}: the database URL holds a password and the file is readable by every"
            " user of this machine; chmod o-r it (or chmod 600)"
        ]
        if warned
        else []
    )
    assert "pw-secret-1" not in caplog.text
