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
from mis_sync.core.store import Store

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
    from mis_sync.core.store import Store

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


# -- config errors: file, key, line, did you mean, secrets ------------------------------------

INTEGRIS = """\
database = "sqlite:///mis-sync.db"

[schools."st-mary"]
connector = "integris"
base_url = "https://datashare.example.org/api"
school_id = "1234"
client_id = "st-mary-sync"
client_secret_env = "ST_MARY_SECRET"
"""


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

PASSWORD = "Pa55-word-never-shown"


def _with_database(database: str) -> None:
    with open("mis-sync.toml", "w") as f:
        f.write(trust_config(database))


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


# -- the script contract: run --json, runs -------------------------------------------------

RUN_OBJECT = [
    "run",
    "school",
    "connector",
    "status",
    "started",
    "finished",
    "inserted",
    "updated",
    "deleted",
    "left_out",
    "origin",
    "mass_delete_allowed",
    "message",
    "left_out_by_reason",
    "near_duplicates",
    "exit_code",
]


def _north_reads_south(trust) -> None:
    """North's config now names the other school's org: most of north would be deleted."""
    trust.write_text(trust.read_text().replace('org = "sch-north"', 'org = "sch-south"'))


def test_run_json_prints_the_runs_object_whatever_the_outcome(trust, mis_sync, db_url):
    config = ("--config", str(trust))
    ok = mis_sync(*config, "run", "oneroster", "--school", "north", "--json")
    assert ok.exit_code == 0 and list(json.loads(ok.stdout)) == RUN_OBJECT

    _north_reads_south(trust)
    stopped = mis_sync(*config, "run", "oneroster", "--school", "north", "--json")
    assert stopped.exit_code == 3
    out = json.loads(stopped.stdout)
    assert list(out) == RUN_OBJECT
    assert (out["status"], out["exit_code"], out["deleted"]) == ("stopped", 3, 0)
    assert out["message"].startswith("stopped before writing: this run would delete")

    store = Store(db_url, create=False)
    with store.lock("north"):
        busy = mis_sync(*config, "run", "oneroster", "--school", "north", "--json")
    assert busy.exit_code == 4
    out = json.loads(busy.stdout)
    assert list(out) == RUN_OBJECT and (out["status"], out["exit_code"]) == ("failed", 4)
    assert out["message"].startswith("school 'north': another run holds it")
    listed = store.runs("north")[0]  # the refused run is listed, as cli.md promises
    assert (listed["run"], listed["status"], listed["message"]) == (
        out["run"],
        "failed",
        out["message"],
    )
    store.close()

    trust.write_text(trust.read_text().replace(str(oneroster.SAMPLE), "/no/such/exchange"))
    failed = mis_sync(*config, "run", "oneroster", "--json")
    assert failed.exit_code == 1
    several = json.loads(failed.stdout)
    assert [(r["school"], r["status"], r["exit_code"]) for r in several] == [
        ("north", "failed", 1),
        ("south", "failed", 1),
    ]
    assert all(list(r) == RUN_OBJECT and isinstance(r["run"], int) for r in several)

    dry = mis_sync(*config, "run", "oneroster", "--school", "south", "--dry-run", "--json")
    assert dry.exit_code == 1  # the exchange is still missing: the dry run failed
    assert json.loads(dry.stdout)["run"] is None


def test_a_dry_run_prints_the_same_shape_with_no_run_number(trust, mis_sync):
    dry = mis_sync("--config", str(trust), "run", "oneroster", "--school", "south", "--dry-run")
    assert dry.exit_code == 0 and "dry run (nothing written)" in dry.stdout
    out = json.loads(
        mis_sync(
            "--config", str(trust), "run", "oneroster", "--school", "south", "--dry-run", "--json"
        ).stdout
    )
    assert (out["run"], out["status"], out["exit_code"]) == (None, "dry-run", 0)
    assert set(RUN_OBJECT) - set(out) <= {
        "started",
        "finished",
        "origin",
        "mass_delete_allowed",
        "message",
    }


LONG_KEY = "st-bartholomews-church-of-england-voluntary-aided-junior-schools"
assert len(LONG_KEY) == 64  # the longest a school key may be


def test_runs_shows_origin_mass_delete_duration_and_fits_80_columns(mis_sync, tmp_path, db_url):
    config = tmp_path / "trust.toml"
    config.write_text(trust_config(db_url).replace("[schools.north]", f"[schools.{LONG_KEY}]"))
    args = ("--config", str(config))
    assert mis_sync(*args, "run", "oneroster").exit_code == 0
    text = config.read_text()
    config.write_text(text.replace('org = "sch-north"', 'org = "sch-south"'))
    assert mis_sync(*args, "run", "oneroster", "--school", LONG_KEY).exit_code == 3
    allowed = mis_sync(*args, "run", "oneroster", "--school", LONG_KEY, "--allow-mass-delete")
    assert allowed.exit_code == 0, allowed.stderr

    rows = json.loads(mis_sync(*args, "runs", "--json").stdout)
    assert [r["status"] for r in rows] == ["ok", "stopped", "ok", "ok"]  # newest first
    assert [r["mass_delete_allowed"] for r in rows] == [True, False, False, False]
    assert {r["origin"] for r in rows} == {"cli"}

    table = mis_sync(*args, "runs")
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, table.stdout
    assert lines[0].split() == [
        "run",
        "status",
        "started",
        "(UTC)",
        "took",
        "ins",
        "upd",
        "del",
        "out",
    ]
    first = lines[1]
    assert first.split()[0] == str(rows[0]["run"]) and first.split()[1] == "ok"
    assert first.endswith(f"{rows[0]['left_out']:>7}")  # numbers right-aligned
    assert first.split()[4].endswith("s")  # a duration
    detail = " ".join(line.strip() for line in lines[2 : lines.index(lines[2]) + 3])
    assert lines[2].strip().startswith(LONG_KEY)
    assert detail.startswith(f"{LONG_KEY} · oneroster · by cli · mass delete allowed: 20 of 20")
    assert sum(LONG_KEY in line for line in lines) == 3  # whole, never cut


def test_runs_takes_a_limit_newest_first_default_20(trust, mis_sync, db_url):
    store = Store(db_url, create=False)
    for n in range(25):
        store.refused_run("south", "oneroster", "cli", f"refused {n}")
    store.close()
    rows = json.loads(mis_sync("--config", str(trust), "runs", "--json").stdout)
    assert len(rows) == 20 and rows[0]["message"] == "refused 24"
    assert [r["run"] for r in rows] == sorted((r["run"] for r in rows), reverse=True)
    one = json.loads(mis_sync("--config", str(trust), "runs", "--json", "--limit", "1").stdout)
    assert one == rows[:1]
    assert mis_sync("--config", str(trust), "runs", "--limit", "0").exit_code == 2


# -- export ---------------------------------------------------------------------------------


@pytest.fixture
def hostile(tmp_path, db_url, mis_sync):
    """North from a copy of the sample whose teacher t01 has a formula for a surname."""
    import shutil

    exchange = tmp_path / "exchange"
    shutil.copytree(oneroster.SAMPLE, exchange)
    users = exchange / "users.csv"
    users.write_text(users.read_text().replace(",Zonox,Rinwyltox,", ',Zonox,"=HYPERLINK(""x"")",'))
    path = tmp_path / "hostile.toml"
    path.write_text(trust_config(db_url).replace(str(oneroster.SAMPLE), str(exchange), 1))
    assert mis_sync("--config", str(path), "run", "oneroster", "--school", "north").exit_code == 0
    return path


def test_export_takes_json_like_the_other_listing_commands(trust, mis_sync):
    args = ("--config", str(trust), "export", "classes", "--school", "north")
    as_json = mis_sync(*args, "--json")
    assert as_json.exit_code == 0
    assert json.loads(as_json.stdout) == json.loads(mis_sync(*args, "--format", "json").stdout)
    assert mis_sync("--json", *args).stdout == as_json.stdout
    table = mis_sync(*args)
    assert table.exit_code == 0 and "n-7N" in table.stdout and "[" not in table.stdout


def test_export_csv_neutralises_formulas_and_writes_plain_values(hostile, mis_sync, tmp_path):
    import csv

    def exported(entity: str) -> list[dict]:
        out = tmp_path / f"{entity}.csv"
        result = mis_sync(
            "--config", str(hostile), "export", entity, "--school", "north", "-o", str(out)
        )
        assert result.exit_code == 0, result.stderr
        assert result.stdout.startswith("north: ") and f"written to {out} (csv)" in result.stdout
        with open(out, encoding="utf-8", newline="") as f:
            return list(csv.DictReader(f))

    [t01] = [t for t in exported("teachers") if t["id"] == "t01"]
    assert t01["surname"] == '\'=HYPERLINK("x")'
    classes = {c["id"]: c for c in exported("classes")}
    assert classes["n-7N"]["teachers"] == "t01;t02"
    assert classes["n-7N"]["student_ids"].startswith("n001;n002;")
    links = exported("contact-links")
    assert {link["parental_responsibility"] for link in links} <= {"true", "false"}
    stdout = mis_sync("--config", str(hostile), "export", "teachers", "--format", "csv")
    assert stdout.exit_code == 2  # two schools: --school is needed, for files and stdout alike


def test_export_to_a_file_is_utf8_with_a_bom_on_request(trust, mis_sync, tmp_path):
    args = ("--config", str(trust), "export", "students", "--school", "north")
    plain, bommed, as_json = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.json"
    assert mis_sync(*args, "-o", str(plain)).exit_code == 0
    assert mis_sync(*args, "-o", str(bommed), "--bom").exit_code == 0
    assert mis_sync(*args, "-o", str(as_json), "--quiet").stdout == ""
    assert plain.read_bytes().startswith(b"id,known_name,")
    assert bommed.read_bytes().startswith(b"\xef\xbb\xbfid,known_name,")
    assert bommed.read_bytes().decode("utf-8-sig").splitlines() == plain.read_text().splitlines()
    assert len(json.loads(as_json.read_text(encoding="utf-8"))) == 15
    refused = mis_sync(*args, "-o", str(tmp_path / "t.txt"), "--format", "table")
    assert refused.exit_code == 2 and not (tmp_path / "t.txt").exists()


# -- set --------------------------------------------------------------------------------------


def _room(mis_sync, trust, teacher: str):
    rows = mis_sync("--config", str(trust), "export", "teachers", "--school", "north", "--json")
    return next(t["room"] for t in json.loads(rows.stdout) if t["id"] == teacher)


@pytest.mark.parametrize("entity", ["teachers", "teacher"])
def test_set_takes_teachers_prints_plainly_and_can_clear(trust, mis_sync, entity):
    args = ("--config", str(trust), "set", entity, "t01", "room")
    done = mis_sync(*args, "B12 'annexe'", "--school", "north")
    assert done.exit_code == 0 and done.stdout == "teacher t01: room = B12 'annexe'\n"
    assert _room(mis_sync, trust, "t01") == "B12 'annexe'"
    cleared = mis_sync(*args, "--clear", "--school", "north")
    assert cleared.exit_code == 0 and cleared.stdout == "teacher t01: room cleared\n"
    assert _room(mis_sync, trust, "t01") is None
    assert mis_sync(*args, "B1", "--clear", "--school", "north").exit_code == 2
    assert mis_sync(*args, "--school", "north").exit_code == 2


def test_set_on_a_left_out_teacher_says_why(trust, mis_sync):
    result = mis_sync(
        "--config", str(trust), "set", "teachers", "t05", "room", "B1", "--school", "north"
    )
    assert result.exit_code == 2
    assert one_line(result) == (
        "mis-sync: error: school 'north': teacher t05 is sent by the MIS but left out:"
        " title is blank"
    )


# -- MIS_SYNC_TRACE_HOOKS: names, timings, sizes; never a record's contents -----------------


def _pupils_personal_data() -> set[str]:
    import csv

    with open(oneroster.SAMPLE / "users.csv", encoding="utf-8") as f:
        users = list(csv.DictReader(f))
    with open(oneroster.SAMPLE / "demographics.csv", encoding="utf-8") as f:
        births = [row["birthDate"] for row in csv.DictReader(f)]
    names = {u[k] for u in users for k in ("givenName", "familyName") if u["role"] == "student"}
    return {v for v in names | set(births) if v}


def test_traced_hooks_show_names_timings_and_sizes_never_records(trust, mis_sync):
    result = mis_sync(
        "--config",
        str(trust),
        "-vv",
        "run",
        "oneroster",
        "--school",
        "north",
        env={"MIS_SYNC_TRACE_HOOKS": "1"},
    )
    assert result.exit_code == 0, result.stderr
    traced = [line for line in result.stderr.splitlines() if "mis_sync.plugins: hook " in line]
    assert any(
        "hook mis_sync_map [connector:oneroster]" in line and " ms; " in line for line in traced
    )
    assert any("returned Dataset(16 students, 21 contacts" in line for line in traced)
    personal = _pupils_personal_data()
    assert len(personal) > 20  # the check below has something to find
    leaked = {value for value in personal if value in result.stderr}
    assert leaked == set()


def test_traced_hooks_of_an_http_connector_show_no_pupil_either(mis_sync):
    from mis_sync.connectors.integris import demo

    pupils = demo.generate_school()["students"]
    personal = {p[k] for p in pupils for k in ("LegalForename", "Surname", "DateOfBirth") if p[k]}
    result = mis_sync("-vv", "run", "integris", "--demo", env={"MIS_SYNC_TRACE_HOOKS": "1"})
    assert result.exit_code == 0, result.stderr
    assert "hook mis_sync_fetch [connector:integris]" in result.stderr
    assert {value for value in personal if value in result.stderr} == set()


# -- several schools on a terminal ----------------------------------------------------------


def _on_terminal(argv: list[str], cwd, env: dict) -> str:
    """Run `python -m mis_sync.core.cli ARGV` with stdout on a pseudo-terminal."""
    import os
    import pty
    import sys

    pid, fd = pty.fork()
    if pid == 0:  # the child: stdout is the pty
        os.chdir(cwd)
        os.execve(sys.executable, [sys.executable, "-m", "mis_sync.core.cli", *argv], env)
    chunks = []
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode(errors="replace")


def test_several_schools_show_progress_on_a_terminal(tmp_path):
    import os
    import subprocess
    import sys

    config = tmp_path / "trust.toml"
    config.write_text(trust_config("sqlite:///trust.db"))
    env = {**os.environ, "MIS_SYNC_CONFIG": str(config), "COLUMNS": "100"}
    shown = _on_terminal(["run", "oneroster"], tmp_path, env)
    assert "north: run 1: inserted 65" in shown and "south: run 2: inserted" in shown
    assert "schools" in shown and "2/2" in shown  # the overall bar
    assert shown.count("north: run 1") == 1  # shown as it finished, not again at the end
    piped = subprocess.run(
        [sys.executable, "-m", "mis_sync.core.cli", "run", "oneroster"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert piped.returncode == 0
    assert "schools" not in piped.stdout and "north: run 3:" in piped.stdout


# -- --quiet, pasteable hints ---------------------------------------------------------------


def test_quiet_prints_nothing_on_success_and_failures_still_go_to_stderr(trust, mis_sync):
    args = ("--config", str(trust), "--quiet")
    for command in (
        ["run", "oneroster"],
        ["run", "oneroster", "--school", "north"],
        ["set", "teachers", "t01", "room", "B2", "--school", "north"],
    ):
        result = mis_sync(*args, *command)
        assert (result.exit_code, result.stdout, result.stderr) == (0, "", ""), command
    trust.write_text(trust.read_text().replace(str(oneroster.SAMPLE), "/no/such/exchange"))
    for command in (["run", "oneroster"], ["run", "oneroster", "--school", "north"]):
        failed = mis_sync(*args, *command)
        assert failed.exit_code == 1 and failed.stdout == ""
        assert "mis-sync: error: " in failed.stderr and "/no/such/exchange" in failed.stderr


def test_with_no_config_quiet_drops_the_demo_database_note(mis_sync):
    assert mis_sync("run", "oneroster", "--demo", "--quiet").stdout == ""
    result = mis_sync("runs", "--json", "--quiet")
    assert result.exit_code == 0 and result.stderr == "" and json.loads(result.stdout)


def test_pasteable_hints_are_shell_quoted(mis_sync, tmp_path):
    import shlex

    dest = tmp_path / "x; touch y"
    dest.mkdir()
    result = mis_sync("new-connector", "acme", "--dest", str(dest))
    assert result.exit_code == 0, result.stderr
    hint = result.stdout.splitlines()[-1].removeprefix("next: ")
    words = shlex.split(hint)
    assert words[:3] == ["pip", "install", "-e"] and words[3] == str(dest / "mis-sync-acme")
    assert words[4:7] == ["&&", "pytest", f"{dest / 'mis-sync-acme'}/tests"]
    assert not (tmp_path / "y").exists()


def test_a_run_in_progress_is_listed_as_running(trust, mis_sync, db_url):
    store = Store(db_url, create=False)
    with store.lock("south"):
        run = store.start_run("south", "oneroster")
        listed = json.loads(mis_sync("--config", str(trust), "runs", "--json").stdout)[0]
        table = mis_sync("--config", str(trust), "runs", "--school", "south").stdout
    store.close()
    assert (listed["run"], listed["status"], listed["finished"]) == (run, "running", None)
    assert table.splitlines()[1].split()[:2] == [str(run), "running"]
    assert table.splitlines()[1].split()[4] == "…"  # no duration yet


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
