"""Redaction (sync-rules.md, Safeguards: credentials never appear in messages): a transport
whose errors echo what it was sending puts the client secret or the bearer token into the
error text; the run's message, its stored run row and its log must show `***` instead."""

from __future__ import annotations

import logging

import httpx
import pytest

from mis_sync.core import pipeline
from mis_sync.core.config import Config
from mis_sync.core.errors import SourceError

from .support import SECRET, fake, options


def echoing(inner: httpx.BaseTransport, path_part: str, what) -> httpx.MockTransport:
    """Fail every request whose path holds `path_part` with an error quoting `what(request)`."""

    def handle(request: httpx.Request) -> httpx.Response:
        if path_part in request.url.path:
            raise httpx.WriteError(f"connection reset while sending {what(request)}")
        response = inner.handle_request(request)
        response.read()
        return response

    return httpx.MockTransport(handle)


@pytest.mark.parametrize(
    "path_part, what, leaked",
    [
        ("/oauth/token", lambda r: r.content.decode(), lambda server: [SECRET]),
        ("/classes", lambda r: r.headers["Authorization"], lambda s: s.issued_tokens),
    ],
    ids=["client-secret-in-token-request", "bearer-token-in-data-request"],
)
def test_a_secret_in_an_error_is_redacted_everywhere_it_is_shown(
    store, monkeypatch, caplog, path_part, what, leaked
):
    monkeypatch.setattr("mis_sync.core.http.time.sleep", lambda seconds: None)
    caplog.set_level(logging.DEBUG, logger="mis_sync")
    server = fake()
    school, pm = pipeline.prepare(Config(schools={"oak": options()}), "oak")
    with pytest.raises(SourceError) as failed:
        pipeline.run_school(
            store, school, pm, transport=echoing(server.transport(), path_part, what)
        )
    message = str(failed.value)
    assert "gave up after 5 tries" in message and "connection reset while sending" in message
    assert "***" in message  # the secret was in the error text, and was replaced
    secrets = leaked(server)
    assert secrets and all(secrets)
    shown = [message, store.runs("oak")[0]["message"], caplog.text]
    for text in shown:
        for secret in secrets:
            assert secret not in text
