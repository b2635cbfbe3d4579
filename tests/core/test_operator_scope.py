"""The operator contract (issue 13): every command scoped and checked: global options in
either position, --school and --run checked, the whole config checked, listing commands that
create nothing, and where data goes (config-relative paths, the demo database, dry runs)."""

from __future__ import annotations

import json

import pytest

from mis_sync.connectors import oneroster
from mis_sync.core.store import Store

from .operator_support import (
    READERS,
    one_line,
    trust_config,
)

# the fixtures `mis_sync` and `trust`
pytest_plugins = ["tests.core.operator_support"]

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

    engine = create_engine(pg_url)
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


# -- where data goes -------------------------------------------------------------------------


def test_a_relative_sqlite_path_is_relative_to_the_config_files_folder(mis_sync, tmp_path):
    config = tmp_path / "etc" / "school.toml"
    config.parent.mkdir()
    config.write_text(trust_config("sqlite:///data.db"))
    assert mis_sync("--config", str(config), "run", "oneroster").exit_code == 0
    assert (tmp_path / "etc" / "data.db").is_file()
    assert list((tmp_path / "work").iterdir()) == []  # not the current folder
    listed = mis_sync("runs", "--json", "--config", str(config))
    assert {r["school"] for r in json.loads(listed.stdout)} == {"north", "south"}


def test_the_demo_never_touches_the_configured_database(trust, mis_sync, tmp_path):
    before = json.loads(mis_sync("--config", str(trust), "--json", "runs").stdout)
    demo = mis_sync("--config", str(trust), "run", "oneroster", "--demo")
    assert demo.exit_code == 0, demo.stderr
    assert "demo-oneroster: run 1: inserted" in demo.stdout
    assert "stored in the demo database sqlite:///mis-sync-demo.db" in demo.stdout
    assert (tmp_path / "work" / "mis-sync-demo.db").is_file()
    assert json.loads(mis_sync("--config", str(trust), "--json", "runs").stdout) == before


def test_each_connectors_demo_has_its_own_school(mis_sync):
    first = mis_sync("run", "integris", "--demo", "--json")
    second = mis_sync("run", "oneroster", "--demo", "--json")
    assert first.exit_code == second.exit_code == 0, first.stderr + second.stderr
    assert json.loads(second.stdout)["deleted"] == 0  # not a mass delete of the other demo
    again = json.loads(mis_sync("run", "integris", "--demo", "--json").stdout)
    assert (again["school"], again["inserted"], again["deleted"]) == ("demo-integris", 0, 0)
    several = mis_sync("changes")
    assert several.exit_code == 2
    assert several.stderr.splitlines()[-1] == (
        "mis-sync: error: several schools are in the demo database;"
        " pass --school (demo-integris, demo-oneroster)"
    )


def test_a_school_whose_records_came_from_another_connector_is_refused(trust, mis_sync):
    text = trust.read_text().replace(
        'connector = "oneroster"',
        'connector = "integris"\nbase_url = "https://datashare.example.org/api"\n'
        'school_id = "1"\nclient_id = "north"\nclient_secret_env = "NORTH_SECRET"',
        1,
    )
    trust.write_text(text.replace(f'path = "{oneroster.SAMPLE}"\norg = "sch-north"\n', "", 1))
    result = mis_sync("--config", str(trust), "run", "integris", "--school", "north")
    assert result.exit_code == 2
    assert one_line(result) == (
        "mis-sync: error: school 'north' holds records stored by connector 'oneroster', not"
        " 'integris'; refusing to replace them. Give the school a new key for the new connector"
    )
    exported = mis_sync("--config", str(trust), "export", "students", "--school", "north", "--json")
    assert len(json.loads(exported.stdout)) == 15  # nothing deleted


def test_a_dry_run_writes_nothing_at_all(mis_sync, tmp_path):
    config = tmp_path / "work" / "mis-sync.toml"
    config.write_text(trust_config("sqlite:///data/mis-sync.db"))
    (tmp_path / "work" / "data").mkdir()
    result = mis_sync("run", "oneroster", "--school", "north", "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert (out["run"], out["status"], out["inserted"]) == (None, "dry-run", 65)
    assert list((tmp_path / "work" / "data").iterdir()) == []  # no database, no lock folder


def test_a_dry_run_creates_no_tables_in_postgresql(mis_sync, pg_url):
    from sqlalchemy import create_engine, inspect

    from tests.conftest import reset_postgres

    reset_postgres(pg_url)
    with open("mis-sync.toml", "w") as f:
        f.write(trust_config(pg_url))
    result = mis_sync("run", "oneroster", "--school", "north", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "dry run (nothing written)" in result.stdout
    engine = create_engine(pg_url)
    assert inspect(engine).get_table_names() == []
    engine.dispose()


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "intgris"], "connector 'intgris' is not installed (installed: integris,"),
        (["run", "integris"], "no school uses connector 'integris' (configured:"),
    ],
)
def test_with_a_config_hints_never_steer_towards_the_demo(trust, mis_sync, args, message):
    result = mis_sync("--config", str(trust), *args)
    assert result.exit_code == 2
    line = one_line(result)
    assert message in line and "--demo" not in line


def test_a_dry_run_takes_no_lock_and_adds_no_run(trust, mis_sync, db_url):

    store = Store(db_url, create=False)
    before = store.runs()
    with store.lock("north"):  # a real run holds the school: a dry run neither waits nor fails
        result = mis_sync("--config", str(trust), "run", "oneroster", "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    assert [r["status"] for r in json.loads(result.stdout)] == ["dry-run", "dry-run"]
    assert store.runs() == before
    store.close()


# -- --run belongs to the school ------------------------------------------------------------


def _run_of(mis_sync, trust, school: str) -> int:
    listed = mis_sync("--config", str(trust), "runs", "--json", "--school", school)
    return json.loads(listed.stdout)[0]["run"]


def test_changes_of_another_schools_run_are_refused(trust, mis_sync):
    north = _run_of(mis_sync, trust, "north")
    own = mis_sync("--config", str(trust), "changes", "--school", "north", "--run", str(north))
    assert own.exit_code == 0 and "n001" in own.stdout
    other = mis_sync("--config", str(trust), "changes", "--school", "south", "--run", str(north))
    assert other.exit_code == 2 and other.stdout == ""
    assert one_line(other) == (
        f"mis-sync: error: school 'south' has no run {north} (it is another school's);"
        " `mis-sync runs --school south` lists its runs"
    )


@pytest.mark.parametrize("number", ["99999", "0", "2147483648", "99999999999999999999", "x"])
def test_a_run_that_does_not_exist_or_cannot_is_exit_2(trust, mis_sync, number):
    result = mis_sync("--config", str(trust), "changes", "--school", "north", "--run", number)
    assert result.exit_code == 2 and result.stdout == ""
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    if number == "99999":
        assert "school 'north' has no run 99999;" in one_line(result)
    else:
        assert "Invalid value for '--run'" in result.stderr


# -- --shard: a share of the schools, for one process per core ------------------------------


def test_shards_sync_every_school_exactly_once(tmp_path, db_url, mis_sync):
    config = tmp_path / "trust.toml"
    config.write_text(trust_config(db_url))
    first = mis_sync("--config", str(config), "--json", "run", "oneroster", "--shard", "1/2")
    assert first.exit_code == 0, first.stderr
    assert json.loads(first.stdout)["school"] == "north"  # sorted keys: north, south
    second = mis_sync("--config", str(config), "--json", "run", "oneroster", "--shard", "2/2")
    assert second.exit_code == 0, second.stderr
    runs = json.loads(mis_sync("--config", str(config), "--json", "runs").stdout)
    assert sorted(r["school"] for r in runs) == ["north", "south"]
    assert {r["status"] for r in runs} == {"ok"}


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--shard", "0/2"], "--shard '0/2': give I/N with 1 <= I <= N"),
        (["--shard", "3/2"], "--shard '3/2': give I/N with 1 <= I <= N"),
        (["--shard", "half"], "--shard 'half': give I/N with 1 <= I <= N"),
        (["--shard", "\u00b2/3"], "--shard '\u00b2/3': give I/N with 1 <= I <= N"),
        (["--shard", "\uff11/\uff12"], "--shard '\uff11/\uff12': give I/N with 1 <= I <= N"),
        (["--shard", "1/" + "9" * 5000], "give I/N with 1 <= I <= N <= 1000, e.g. 1/2"),
        (["--shard", "3/3"], "--shard 3/3: no school is in this share of the oneroster schools"),
        (["--shard", "1/2", "--school", "north"], "not with --school or --demo"),
    ],
)
def test_a_wrong_shard_is_exit_2_in_one_line_and_runs_nothing(tmp_path, mis_sync, args, says):
    database = tmp_path / "trust.db"
    config = tmp_path / "trust.toml"
    config.write_text(trust_config(f"sqlite:///{database}"))
    result = mis_sync("--config", str(config), "run", "oneroster", *args)
    assert result.exit_code == 2
    assert says in one_line(result)
    assert not database.exists()
