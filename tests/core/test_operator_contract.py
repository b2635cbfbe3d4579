"""The operator contract (issue 13, cli.md): every command scoped, checked and honest.

Driven through the CLI on SQLite and PostgreSQL with a trust of two schools, `north` and
`south`, read by the OneRoster connector from its bundled sample (no network needed).
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from mis_sync.connectors import oneroster
from mis_sync.core.cli import main

READERS = [
    ["runs"],
    ["changes"],
    ["explain", "students", "s01"],
    ["export", "students"],
    ["set", "teacher", "t01", "room", "B12"],
]


def trust_config(database: str, **extra_south) -> str:
    south = {"connector": "oneroster", "path": str(oneroster.SAMPLE), "org": "sch-south"}
    south.update(extra_south)
    lines = [
        f'database = "{database}"',
        "",
        "[schools.north]",
        'connector = "oneroster"',
        f'path = "{oneroster.SAMPLE}"',
        'org = "sch-north"',
        "",
        "[schools.south]",
        *(f"{k} = {json.dumps(v)}" for k, v in south.items()),
    ]
    return "\n".join(lines) + "\n"


@pytest.fixture
def mis_sync(tmp_path, monkeypatch):
    """`mis-sync ...` run in a fresh folder with no config in it or in the environment."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("MIS_SYNC_CONFIG", raising=False)
    monkeypatch.delenv("MIS_SYNC_DEMO_DATABASE", raising=False)

    def invoke(*args: str, env: dict | None = None):
        return CliRunner().invoke(main, list(args), env=env)

    return invoke


@pytest.fixture
def trust(tmp_path, db_url, mis_sync):
    """A config of two schools in `db_url`, synced once; returns the config's path."""
    path = tmp_path / "etc" / "trust.toml"
    path.parent.mkdir()
    path.write_text(trust_config(db_url))
    result = mis_sync("--config", str(path), "run", "oneroster")
    assert result.exit_code == 0, result.stderr
    return path


def one_line(result) -> str:
    """The error's single stderr line; never a traceback."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return lines[0]


# -- global options in either position, -h -------------------------------------------------


def test_global_options_work_before_and_after_the_subcommand(trust, mis_sync):
    before = mis_sync("--config", str(trust), "--json", "runs")
    after = mis_sync("runs", "--json", "--config", str(trust))
    assert before.exit_code == after.exit_code == 0, before.stderr + after.stderr
    assert json.loads(before.stdout) == json.loads(after.stdout)
    assert {r["school"] for r in json.loads(after.stdout)} == {"north", "south"}
    verbose = mis_sync("run", "oneroster", "--config", str(trust), "-vv")
    assert verbose.exit_code == 0 and " DEBUG mis_sync" in verbose.stderr
    quiet = mis_sync("--quiet", "run", "oneroster", "--config", str(trust))
    assert quiet.exit_code == 0 and quiet.stdout == "" and quiet.stderr == ""


@pytest.mark.parametrize("where", ["group", "command"])
def test_dash_h_is_help(mis_sync, where):
    result = mis_sync(*(["-h"] if where == "group" else ["runs", "-h"]))
    assert result.exit_code == 0 and "Usage: " in result.stdout


# -- --school checked by every command ------------------------------------------------------


@pytest.mark.parametrize("args", [*READERS, ["run", "oneroster"]], ids=lambda a: a[0])
def test_an_unknown_school_is_exit_2_listing_the_configured_ones(trust, mis_sync, args):
    result = mis_sync("--config", str(trust), *args, "--school", "sotuh")
    assert result.exit_code == 2
    assert one_line(result) == (
        f"mis-sync: error: {trust}: no school 'sotuh' (configured: north, south)"
    )


# -- listing commands never create a database ------------------------------------------------


@pytest.mark.parametrize("args", READERS, ids=lambda a: a[0])
def test_with_no_config_and_no_demo_a_reader_exits_2_naming_where_it_looked(
    mis_sync, tmp_path, args
):
    result = mis_sync(*args)
    assert result.exit_code == 2
    line = one_line(result)
    assert "no config file found (looked at --config, $MIS_SYNC_CONFIG, ./mis-sync.toml)" in line
    assert list((tmp_path / "work").iterdir()) == []  # no database, no lock folder


@pytest.mark.parametrize("args", READERS, ids=lambda a: a[0])
def test_a_reader_never_creates_the_configured_database(mis_sync, tmp_path, args):
    config = tmp_path / "work" / "mis-sync.toml"
    config.write_text(trust_config("sqlite:///data/mis-sync.db"))
    (tmp_path / "work" / "data").mkdir()
    result = mis_sync(*args, "--school", "north")
    assert result.exit_code == 2
    assert "nothing has been synced there yet" in one_line(result)
    assert list((tmp_path / "work" / "data").iterdir()) == []


def test_a_reader_never_creates_tables_in_an_empty_postgresql_database(mis_sync, pg_url):
    from tests.conftest import reset_postgres

    reset_postgres(pg_url)
    with open("mis-sync.toml", "w") as f:
        f.write(trust_config(pg_url))
    result = mis_sync("runs")
    assert result.exit_code == 2
    assert "holds no mis-sync tables" in one_line(result)
    from sqlalchemy import create_engine, inspect

    engine = create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://"))
    assert inspect(engine).get_table_names() == []
    engine.dispose()


def test_with_no_config_readers_read_the_demo_database_and_say_so(mis_sync, tmp_path):
    assert mis_sync("run", "oneroster", "--demo").exit_code == 0
    result = mis_sync("runs", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)[0]["school"] == "demo-oneroster"
    assert one_line(result) == (
        "mis-sync: no config file (--config, $MIS_SYNC_CONFIG, ./mis-sync.toml);"
        " reading the demo database sqlite:///mis-sync-demo.db"
    )


# -- the whole config checked by every command -----------------------------------------------


@pytest.mark.parametrize("args", READERS, ids=lambda a: a[0])
def test_a_typo_in_any_school_stops_every_command(trust, mis_sync, args):
    trust.write_text(trust_config(_database(trust), titel_column="x"))
    result = mis_sync("--config", str(trust), *args, "--school", "north")
    assert result.exit_code == 2
    assert one_line(result) == (
        f"mis-sync: error: {trust}, line 12: schools.south.titel_column:"
        " unknown option 'titel_column' (did you mean 'title_column'?)"
    )


def _database(config) -> str:
    return next(
        line.split('"')[1]
        for line in config.read_text().splitlines()
        if line.startswith("database")
    )
