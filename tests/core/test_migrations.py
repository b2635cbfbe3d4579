"""Schema migrations (Alembic, shipped in the package), on SQLite and PostgreSQL."""

from __future__ import annotations

import json

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect, text

from mis_sync.core.cli import main
from mis_sync.core.store import migrate, views
from mis_sync.core.store.tables import metadata


def test_head_constant_is_the_newest_migration():
    config = Config()
    config.set_main_option("script_location", "mis_sync.core:migrations")
    assert ScriptDirectory.from_config(config).get_current_head() == migrate.HEAD


def test_migrations_build_exactly_the_tables_the_code_uses(db_url):
    engine = create_engine(db_url)
    migrate.upgrade(engine)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    engine.dispose()


def test_a_new_database_is_built_as_the_migrations_would_build_it(db_url):
    engine = create_engine(db_url)
    migrate.ensure(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn)
        assert context.get_current_revision() == migrate.HEAD
        assert compare_metadata(context, metadata) == []
    migrate.upgrade(engine)  # nothing to do, and no error
    assert migrate.current(engine) == migrate.HEAD
    engine.dispose()


def test_upgrade_from_the_first_schema_keeps_every_row(db_url, tmp_path, monkeypatch):
    engine = create_engine(db_url)
    migrate.upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO records (school, entity, id, data, hash, deleted, run) VALUES"
                " ('oak', 'students', '4821', '{\"id\":\"4821\"}', 'h', false, 1)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO runs (school, connector, status, started, inserted, updated, deleted,"
                " left_out, overridden) VALUES ('oak', 'integris', 'ok', '2026-01-01T00:00:00Z',"
                " 1, 0, 0, 0, false)"
            )
        )
    engine.dispose()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mis-sync.toml").write_text(
        f'database = "{db_url}"\n[schools.oak]\nconnector = "integris"\n'
        'base_url = "https://datashare.example.org/api"\nschool_id = "1"\n'
        'client_id = "oak"\nclient_secret_env = "OAK_SECRET"\n'
    )

    stale = CliRunner().invoke(main, ["runs"])
    assert stale.exit_code == 2
    assert (
        f"schema is at revision 0001, this mis-sync needs {migrate.HEAD}: run `mis-sync db upgrade`"
        in stale.stderr
    )

    done = CliRunner().invoke(main, ["db", "upgrade"])
    assert done.exit_code == 0, done.stderr
    assert f"0001 -> {migrate.HEAD}" in done.stdout
    runs = json.loads(CliRunner().invoke(main, ["runs", "--json"]).stdout)
    assert [(r["run"], r["school"], r["inserted"]) for r in runs] == [(1, "oak", 1)]
    exported = json.loads(CliRunner().invoke(main, ["export", "students", "--json"]).stdout)
    assert [s["id"] for s in exported] == ["4821"]
    engine = create_engine(db_url)  # the upgrade made the views too (migration 0005)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT school, id FROM students")).all() == [("oak", "4821")]
        assert conn.execute(text("SELECT run, merged FROM sync_runs")).all() == [(1, 0)]
    engine.dispose()


def test_processes_starting_together_on_an_empty_database_all_get_the_schema(db_url):
    """Workers start at once on a new database: one creates it, none fails or sees half."""
    import subprocess
    import sys

    code = "import sys; from mis_sync.core.store import Store; Store(sys.argv[1]).close()"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, db_url], stderr=subprocess.PIPE)
        for _ in range(6)
    ]
    errors = [p.communicate(timeout=60)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, errors
    assert migrate.current(create_engine(db_url)) == migrate.HEAD


def test_0005_downgrades_and_upgrades_again(db_url):
    """The views go before the tables they read, and come back with them."""
    from alembic import command

    engine = create_engine(db_url)
    migrate.upgrade(engine)
    config = Config()
    config.set_main_option("script_location", "mis_sync.core:migrations")
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0003")
    assert migrate.current(engine) == "0003"
    assert not set(views.VIEWS) & set(inspect(engine).get_view_names())
    migrate.upgrade(engine)
    assert set(views.VIEWS) <= set(inspect(engine).get_view_names())
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sync_runs")).scalar() == 0
    engine.dispose()


def test_0007_gives_old_successful_runs_their_kept_counts_from_the_events(db_url):
    """Runs stored before runs kept their counts per entity: the upgrade adds them up from
    the events (inserts and restores minus deletes, per school in run order), so the fleet's
    sparklines cover them too; a run that has its counts keeps them and the sum goes on."""
    from mis_sync.core.store import Store

    engine = create_engine(db_url)
    migrate.upgrade(engine, "0006")
    runs = [  # run, school, status, summary
        (1, "oak", "ok", None),
        (2, "elm", "ok", '{"left_out_by_reason": {"students: in no kept class": 2}}'),
        (3, "oak", "failed", None),
        (4, "oak", "ok", '{"near_duplicates": []}'),
        (5, "oak", "ok", None),
        (6, "oak", "ok", '{"kept": {"students": 9, "teachers": 4}}'),
        (7, "oak", "ok", None),
    ]
    events = [  # run, school, entity, op, how many
        (1, "oak", "students", "insert", 3),
        (1, "oak", "teachers", "insert", 2),
        (2, "elm", "students", "insert", 5),
        (4, "oak", "students", "delete", 1),
        (4, "oak", "students", "update", 2),
        (4, "oak", "teachers", "insert", 1),
        (5, "oak", "students", "restore", 1),
        (5, "oak", "students", "local", 1),  # a hand edit: no record came or went
        (7, "oak", "students", "insert", 2),
    ]
    with engine.begin() as conn:
        for run, school, status, summary in runs:
            conn.execute(
                text(
                    "INSERT INTO runs (run, school, connector, status, started, inserted,"
                    " updated, deleted, left_out, overridden, summary) VALUES (:run, :school,"
                    " 'integris', :status, '2026-01-01T00:00:00Z', 0, 0, 0, 0, false, :summary)"
                ),
                dict(run=run, school=school, status=status, summary=summary),
            )
        n = 0
        for run, school, entity, op, many in events:
            for _ in range(many):
                n += 1
                conn.execute(
                    text(
                        "INSERT INTO events (run, school, entity, id, op, changes) VALUES"
                        " (:run, :school, :entity, :id, :op, '{}')"
                    ),
                    dict(run=run, school=school, entity=entity, id=f"I{n}", op=op),
                )
    migrate.upgrade(engine)
    engine.dispose()
    store = Store(db_url)
    kept = {row["school"]: row["kept"] for row in store.fleet()}
    assert kept["oak"]["students"] == [3, 2, 3, 9, 11]
    assert kept["oak"]["teachers"] == [2, 3, 3, 4, 4]
    assert kept["oak"]["groups"][:3] == [0, 0, 0]
    assert kept["elm"]["students"] == [5]
    history = store.kept_history("elm")
    assert history[0]["kept"]["students"] == 5
    # what a summary held stays, beside the counts
    assert store.result(2)["left_out_by_reason"] == {"students: in no kept class": 2}
    store.close()
