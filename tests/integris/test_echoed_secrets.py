"""Secrets, whatever the server says: a server that echoes the token or the client secret in an
error body, a header or a cursor, and a server whose token or certificate cannot be used.

Every output of the run is searched: stdout and stderr of `run --json` at -vv (httpx's and
httpcore's loggers included), `runs` and `runs --json`, every row of the database, and a
cassette recorded from the run."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from mis_sync.connectors.integris.fake import serve
from mis_sync.connectors.integris.hostile import HostileDatashare
from mis_sync.core import cassettes

from .support import SECRET, cli, fake, write_config
from .test_secrets import database_text


@pytest.fixture
def sleeps(monkeypatch):
    waited: list[float] = []
    monkeypatch.setattr("mis_sync.core.http.time.sleep", waited.append)
    return waited


def run_echoing(tmp_path: Path, db_url: str, echo: str):
    server = HostileDatashare(fake(), echo=echo)
    recorder = cassettes.vcr(str(tmp_path / "cassettes"), record_mode="all")
    with serve(server) as base_url, recorder.use_cassette("echo.yaml"):
        config = str(write_config(tmp_path, db_url, base_url))
        ran = cli("-vv", "--config", config, "run", "integris", "--json")
    listed = [cli("--config", config, "runs", "--json"), cli("--config", config, "runs")]
    cassette = (tmp_path / "cassettes" / "echo.yaml").read_text()
    text = "\n".join(o.stdout + o.stderr for o in [ran, *listed])
    return ran, server, text + database_text(db_url) + cassette, cassette


@pytest.mark.parametrize(
    "echo, exit_code, says",
    [
        ("error_body", 1, "not granted the Datashare permission 'granted to ***'"),
        (
            "token_error",
            1,
            "rejected the client credentials of client_id 'test-client' (bad secret ***)",
        ),
        ("header", 0, ""),
        ("cursor", 1, "students page 2: unexpected HTTP 400"),
    ],
)
def test_an_echoed_secret_or_token_reaches_no_output(tmp_path, db_url, echo, exit_code, says):
    ran, server, text, cassette = run_echoing(tmp_path, db_url, echo)
    assert ran.exit_code == exit_code, ran.stderr
    assert says in ran.stderr
    assert "HTTP Request" in ran.stderr  # httpx's own log line was on
    if echo == "header":
        # the header was sent; a cassette keeps no response header but Content-Type
        assert "x-echo" not in cassette.lower() and "content-type" in cassette.lower()
    assert "receive_response_headers" not in ran.stderr  # httpcore's header log stays off
    if echo == "cursor":
        assert "cursor=***" in ran.stderr  # the URL is logged, the token in it is not
    known = [SECRET, *server.fake.issued_tokens]
    assert known[1:] or echo == "token_error"
    for secret in known:
        assert secret not in text
    assert cassettes.find_secrets(cassette, known=known) == []


def test_find_secrets_finds_an_echoed_token_it_is_told_of():
    cassette = 'body: {"permission": "granted to tok3n-abcdef-123"}'
    assert cassettes.find_secrets(cassette) == []  # no pattern can know where a server echoes
    assert cassettes.find_secrets(cassette, known=["tok3n-abcdef-123"]) != []


@pytest.mark.parametrize(
    "token", ["abcdefgh\r\nX-Injected: yes", "tökén-abcdefgh", "abcd efgh"], ids=repr
)
def test_a_token_that_cannot_be_sent_fails_at_once(tmp_path, sleeps, token):
    server = HostileDatashare(fake(), token=token)
    with serve(server) as base_url:
        config = str(write_config(tmp_path, "sqlite:///:memory:", base_url))
        result = cli("--config", config, "run", "integris")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "mis-sync: error: token request: the access_token holds a space, a line break or a"
        " character that is not ASCII, so it cannot be sent in a header; not retried"
    )
    assert sleeps == []
    assert server.fake.requests == [("POST", "/api/oauth/token")]


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1, made by openssl on the spot."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


@pytest.mark.timeout(15)
def test_a_self_signed_certificate_fails_at_once_saying_so(tmp_path, sleeps, self_signed):
    with serve(fake(), tls=self_signed) as base_url:
        assert base_url.startswith("https://127.0.0.1:")
        config = str(write_config(tmp_path, "sqlite:///:memory:", base_url))
        started = time.monotonic()
        result = cli("--config", config, "run", "integris")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "mis-sync: error: token request: the server's TLS certificate cannot be verified"
        " (self-signed certificate); not retried. If the server uses a private certificate"
        " authority, point SSL_CERT_FILE at its certificate"
    )
    assert sleeps == []
    assert time.monotonic() - started < 5


def test_a_base_url_with_a_password_is_refused_without_showing_it(tmp_path):
    path = write_config(
        tmp_path, "sqlite:///:memory:", "https://sync:hunter2-pass@datashare.example.org/api"
    )
    result = cli("--config", str(path), "run", "integris")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"mis-sync: error: {path}, line 5: schools.oak.base_url: must not hold a user name or"
        " password (the client secret comes from client_secret_env); without them it reads"
        " 'https://datashare.example.org/api'"
    )
    assert "hunter2" not in result.stderr + result.stdout


def test_a_school_id_stays_one_path_segment(tmp_path):
    server = fake()
    with serve(server) as base_url:
        path = write_config(
            tmp_path, "sqlite:///:memory:", base_url, school_id="../../oauth/token#"
        )
        result = cli("--config", str(path), "run", "integris")
    assert result.exit_code == 1
    assert "Datashare knows no school with id '../../oauth/token#' (HTTP 404)" in result.stderr
    # the server saw the ID inside each resource's path (the resources are fetched at once),
    # and no second call of the token endpoint
    calls = [r for r in server.requests if "oauth" in r[1]]
    assert calls[0] == ("POST", "/api/oauth/token")
    assert calls[1:] and all(
        method == "GET" and path.startswith("/api/v1/schools/../../oauth/token#/")
        for method, path in calls[1:]
    ), calls
