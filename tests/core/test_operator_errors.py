"""The operator contract (issue 13): config and set-up errors are exit 2 in one line naming
file, key and line or what to fix, never a traceback, a password or a secret."""

from __future__ import annotations

import json

import pytest

from .operator_support import (
    INTEGRIS,
    PASSWORD,
    _with_database,
    one_line,
    trust_config,
)

# the fixtures `mis_sync` and `trust`
pytest_plugins = ["tests.core.operator_support"]

# -- config errors: file, key, line, did you mean, secrets ------------------------------------


@pytest.mark.parametrize(
    "change, message",
    [
        (
            ('client_secret_env = "ST_MARY_SECRET"', 'client_secret = "hunter2-Xy9"'),
            "line 8: schools.st-mary.client_secret: unknown option 'client_secret': secrets"
            " never go in the file; put the secret in the environment and name the variable"
            " in client_secret_env",
        ),
        (
            ('connector = "integris"', 'conector = "integris"'),
            "line 4: schools.st-mary.conector: unknown option 'conector'"
            " (did you mean 'connector'?)",
        ),
        (
            ('school_id = "1234"', 'school_id = "1234"\npage_limt = 200'),
            "line 7: schools.st-mary.page_limt: unknown option 'page_limt'"
            " (did you mean 'page_limit'?)",
        ),
        (
            ('school_id = "1234"', 'school_id = "1234"\nmass_delete_threshold = 0'),
            "line 7: schools.st-mary.mass_delete_threshold: Expected `float` > 0.0",
        ),
        (
            ('connector = "integris"', 'connector = "intgris"'),
            "line 4: schools.st-mary.connector: connector 'intgris' is not installed"
            " (installed: integris,",
        ),
        (('database = "sqlite', 'databse = "sqlite'), "line 1: databse: unknown key 'databse'"),
    ],
    ids=["inline-secret", "near-miss", "connector-option", "threshold", "connector", "top"],
)
def test_a_config_error_names_file_key_and_the_keys_own_line(mis_sync, change, message):
    with open("mis-sync.toml", "w") as f:
        f.write(INTEGRIS.replace(*change))
    for args in (["runs"], ["run", "integris"]):
        result = mis_sync(*args)
        assert result.exit_code == 2
        line = one_line(result)
        assert line.startswith(f"mis-sync: error: mis-sync.toml, {message}"), line
        assert "hunter2" not in line


@pytest.mark.parametrize("value", ["ST_MARY_SECRET", "Zq8-real-secret/+="])
def test_a_missing_secret_names_file_school_and_line_never_the_value(mis_sync, value):
    with open("mis-sync.toml", "w") as f:
        f.write(INTEGRIS.replace('"ST_MARY_SECRET"', json.dumps(value)))
    result = mis_sync("run", "integris", env={"ST_MARY_SECRET": ""})
    assert result.exit_code == 2
    line = one_line(result)
    assert line.startswith(
        "mis-sync: error: mis-sync.toml, line 8: schools.st-mary.client_secret_env:"
        " the environment variable it names is not set"
    )
    assert value not in result.stdout + result.stderr


# -- errors of the machine's set-up: exit 2, one line, a hint, no password -----------------


def test_a_postgres_url_is_taken_as_postgresql(mis_sync, pg_url):
    from tests.conftest import reset_postgres

    reset_postgres(pg_url)
    from sqlalchemy import make_url

    url = make_url(pg_url).set(drivername="postgres").render_as_string(hide_password=False)
    assert url.startswith("postgres://")
    _with_database(url)
    result = mis_sync("run", "oneroster", "--school", "north", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["inserted"] == 65


@pytest.mark.parametrize(
    "database, args, message",
    [
        (
            f"mysql://root:{PASSWORD}@127.0.0.1/x",
            ["runs"],
            "database mysql://root:***@127.0.0.1/x: mysql is not supported; use SQLite"
            " (sqlite:///path) or PostgreSQL (postgresql://user@host/db)",
        ),
        (
            f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/x",
            ["run", "oneroster"],
            "database postgresql+psycopg://postgres:***@127.0.0.1:1/x:",
        ),
        (
            f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/x",
            ["runs"],
            "(is the database server running, and at that host and port?)",
        ),
        (
            "postgresql://postgres@127.0.0.1:5432/mis_sync_no_such_database",
            ["run", "oneroster"],
            'database "mis_sync_no_such_database" does not exist (create the database first',
        ),
        (
            "sqlite:///no/such/folder/mis-sync.db",
            ["run", "oneroster"],
            "/no/such/folder does not exist",
        ),
        ("sqlite:///not-a-db.txt", ["runs"], "file is not a database (the file is not a"),
        ("sqlite:///not-a-db.txt", ["run", "oneroster"], "file is not a database"),
        ("sqlite://", ["runs"], "holds no mis-sync tables"),
        ("not a url at all", ["runs"], "database: not a database URL (sqlite:///path"),
        (
            f"postgresql://postgres@127.0.0.1:1/x?password={PASSWORD}",
            ["runs"],
            "database postgresql+psycopg://postgres@127.0.0.1:1/x?password=***:",
        ),
        (
            f"postgresql://postgres@127.0.0.1:1/x?PASSWORD={PASSWORD}",
            ["run", "oneroster"],
            "database postgresql+psycopg://postgres@127.0.0.1:1/x?PASSWORD=***:",
        ),
        (
            f"postgresql://postgres@127.0.0.1:1/x?sslmode=disable&sslpassword={PASSWORD}",
            ["runs"],
            "database postgresql+psycopg://postgres@127.0.0.1:1/x?sslmode=disable&sslpassword=***:",
        ),
    ],
    ids=[
        "mysql",
        "refused-run",
        "refused-read",
        "no-such-db",
        "no-folder",
        "not-db-read",
        "not-db-run",
        "memory-read",
        "not-a-url",
        "password-in-query-read",
        "password-in-query-run",
        "sslpassword-in-query",
    ],
)
def test_a_database_that_cannot_be_used_is_exit_2_in_one_line(mis_sync, database, args, message):
    with open("not-a-db.txt", "w") as f:
        f.write("these are not the tables you are looking for\n" * 100)
    _with_database(database)
    result = mis_sync(*args)
    assert result.exit_code == 2, result.stderr
    line = one_line(result)
    assert line.startswith("mis-sync: error: ") and message in line, line
    assert PASSWORD not in result.stdout + result.stderr
    assert "internal error" not in line and "sqlalchemy" not in line.lower()


def test_a_missing_postgresql_driver_names_the_extra(mis_sync, pg_url, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if not installed
    _with_database(pg_url)
    result = mis_sync("runs")
    assert result.exit_code == 2
    assert one_line(result).endswith(
        "driver psycopg is not installed; pip install 'mis-sync[postgres]'"
    )


@pytest.mark.parametrize(
    "error, message",
    [
        ("database is locked", "another program held the database past the wait; try again"),
        ("database or disk is full", "free space and run again"),
        ("disk", "the disk is full; free space and run again"),
    ],
)
def test_a_locked_database_or_a_full_disk_is_exit_2(trust, mis_sync, monkeypatch, error, message):
    import errno
    import sqlite3

    from sqlalchemy.exc import OperationalError

    def fails(*args, **kwargs):
        if error == "disk":
            raise OSError(errno.ENOSPC, "No space left on device")
        raise OperationalError("INSERT INTO runs ...", {}, sqlite3.OperationalError(error))

    monkeypatch.setattr("mis_sync.core.store.Store.start_run", fails)
    for args in (["run", "oneroster", "--school", "north"], ["run", "oneroster"]):
        result = mis_sync("--config", str(trust), *args)
        assert result.exit_code == 2, result.stderr
        assert message in result.stderr and "internal error" not in result.stderr
        assert "INSERT" not in result.stderr


@pytest.mark.parametrize("command", ["worker", "dispatch"])
def test_workers_without_the_workers_extra_name_it(tmp_path, command):
    import subprocess
    import sys

    config = tmp_path / "mis-sync.toml"
    config.write_text('broker = "redis://127.0.0.1:6379/0"\n' + trust_config("sqlite:///x.db"))
    code = (
        "import sys; sys.modules['celery'] = None\n"
        "from mis_sync.core.cli import main\n"
        f"main(['{command}', '--config', sys.argv[1]])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(config)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "mis-sync: error: celery is not installed: pip install 'mis-sync[workers]'"
    )


@pytest.mark.parametrize("value", ["0", "-5", "nan", "inf"])
def test_a_timeout_that_is_not_a_duration_is_a_config_error(mis_sync, value):
    with open("mis-sync.toml", "w") as f:
        f.write(INTEGRIS + f"timeout = {value}\n")
    result = mis_sync("runs")
    assert result.exit_code == 2
    assert one_line(result).startswith(
        "mis-sync: error: mis-sync.toml, line 9: schools.st-mary.timeout: Expected `float`"
    )


@pytest.mark.parametrize("key", ["x" * 65, "tab\\there", ""])
def test_a_school_key_the_lock_cannot_name_is_a_config_error(mis_sync, key):
    with open("mis-sync.toml", "w") as f:
        f.write(INTEGRIS.replace('"st-mary"', f'"{key}"'))
    result = mis_sync("runs")
    assert result.exit_code == 2
    assert one_line(result) == (
        "mis-sync: error: mis-sync.toml, line 3: schools."
        + (key if len(key) > 64 else f'"{key}"')
        + ": a school key must be 1 to 64 characters, none of them a control character"
    )


def test_a_postgresql_server_that_never_answers_is_exit_2_not_a_hang(mis_sync):
    """A listener that accepts and says nothing: the connect timeout ends it in one line
    (10 s by default; the URL's own connect_timeout, 1 s here, wins)."""
    import socket
    import time

    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        _with_database(f"postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/x?connect_timeout=1")
        began = time.monotonic()
        result = mis_sync("runs")
    assert time.monotonic() - began < 10
    assert result.exit_code == 2
    line = one_line(result)
    assert "timeout" in line.lower() and PASSWORD not in line, line
