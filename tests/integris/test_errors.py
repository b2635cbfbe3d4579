"""Each error of datashare-wire.md, through `mis-sync run` against the fake on loopback:
the exit code, the message on stderr, and that nothing stored has changed."""

from __future__ import annotations

import json

import pytest

from mis_sync.connectors.integris.fake import Fault, serve

from .support import SECRET, SECRET_ENV, cli, fake, small, write_config


@pytest.fixture
def sleeps(monkeypatch):
    """Retries wait for real in production; here they are recorded instead."""
    waited: list[float] = []
    monkeypatch.setattr("mis_sync.core.http.time.sleep", waited.append)
    return waited


@pytest.fixture
def school(tmp_path, db_url):
    """Run `mis-sync run integris` against a fake with the given faults; the DB persists."""

    def run(*faults, data=None, args=(), **config):
        server = fake(data, faults=list(faults))
        with serve(server) as base_url:
            path = write_config(tmp_path, db_url, base_url, **config)
            result = cli("--config", str(path), "run", "integris", "--json", *args)
        return result, server

    run.config = lambda: str(tmp_path / "mis-sync.toml")
    return run


def stored(school_run) -> list:
    result = cli("--config", school_run.config(), "export", "students", "--json")
    return json.loads(result.stdout)


def test_clean_run_exits_0(school):
    result, _ = school()
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["inserted"] > 0


def test_wrong_credentials_exit_1_naming_the_client(tmp_path):
    with serve(fake()) as base_url:
        path = write_config(tmp_path, "sqlite:///:memory:", base_url)
        result = cli("--config", str(path), "run", "integris", env={SECRET_ENV: "wrong-secret"})
    assert result.exit_code == 1
    assert (
        "rejected the client credentials of client_id 'test-client' (invalid_client)"
        in result.stderr
    )
    assert "wrong-secret" not in result.stderr + result.stdout


def test_expired_token_is_refreshed_once_and_the_run_goes_on(school):
    result, server = school(Fault(kind="expire_token", resource="classes"))
    assert result.exit_code == 0, result.stderr
    assert server.tokens_issued == 2


def test_403_names_the_permission_not_granted(school):
    school()
    before = stored(school)
    result, _ = school(
        Fault(kind="status", status=403, resource="contacts"), data=small(students=[])
    )
    assert result.exit_code == 1
    assert "contacts page 1" in result.stderr
    assert "'Basic information about a student'" in result.stderr
    assert stored(school) == before


def test_404_names_the_school_id(school):
    result, _ = school(school_id="9999")
    assert result.exit_code == 1
    assert "no school with id '9999'" in result.stderr


def test_429_and_5xx_are_retried_honouring_retry_after(school, sleeps):
    result, _ = school(
        Fault(kind="status", status=429, retry_after=7, resource="students"),
        Fault(kind="status", status=503, resource="staff"),
        Fault(kind="status", status=502, resource="classes", times=2),
    )
    assert result.exit_code == 0, result.stderr
    # the resources are fetched at once, so the waits come in any order: the 429's is its
    # Retry-After, the three others are back-offs (each well under it)
    assert len(sleeps) == 4
    assert sorted(sleeps)[-1] == 7 and sorted(sleeps)[-2] < 7


def test_a_source_that_keeps_failing_fails_the_run_saying_tries_and_time(school, sleeps):
    result, _ = school(Fault(kind="status", status=500, resource="groups", times=99))
    assert result.exit_code == 1
    assert "groups page 1: gave up after 5 tries over" in result.stderr
    assert "(last: HTTP 500)" in result.stderr
    assert len(sleeps) == 4


@pytest.mark.parametrize(
    "kind, message",
    [
        ("not_json", "students page 2: the body is not JSON"),
        ("truncated", "students page 2: the body is not JSON"),
        (
            "wrong_shape",
            "students page 2: the page has the wrong shape: Object missing required field `data`",
        ),
        ("loop_cursor", "students page 2: next_cursor repeats an earlier cursor"),
    ],
)
def test_bad_pages_fail_the_run_naming_resource_and_page_and_store_nothing(school, kind, message):
    students = [dict(small()["students"][0], StudentID=str(5000 + i)) for i in range(5)]
    regs = [dict(small()["classes"][0], StudentIDs=[s["StudentID"] for s in students])]
    data = small(students=students, classes=regs)
    first, _ = school(data=data, page_limit=2)
    assert first.exit_code == 0, first.stderr
    before = stored(school)
    changed = small(students=[dict(s, Surname="Changed") for s in students], classes=regs)
    result, _ = school(
        Fault(kind=kind, resource="students", page=2, times=99), data=changed, page_limit=2
    )
    assert result.exit_code == 1
    assert message in result.stderr
    assert stored(school) == before
    assert "Traceback" not in result.stderr


def test_http_to_a_non_loopback_host_is_refused(tmp_path):
    path = write_config(tmp_path, "sqlite:///:memory:", "http://datashare.example.org/api")
    result = cli("--config", str(path), "run", "integris")
    assert result.exit_code == 2
    assert "must be https://" in result.stderr


def test_missing_secret_variable_exits_2_naming_file_school_and_line(tmp_path):
    path = write_config(tmp_path, "sqlite:///:memory:", "https://datashare.example.org/api")
    result = cli("--config", str(path), "run", "integris", env={SECRET_ENV: ""})
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"mis-sync: error: {path}, line 8: schools.oak.client_secret_env: the environment"
        " variable it names is not set or empty"
    )
    assert SECRET not in result.stderr


def test_any_other_status_fails_the_run_naming_resource_page_and_status(school):
    result, _ = school(Fault(kind="status", status=418, resource="classes"))
    assert result.exit_code == 1
    assert result.stderr.strip() == "mis-sync: error: classes page 1: unexpected HTTP 418"
