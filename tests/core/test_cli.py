"""The operator's interface of cli.md: commands, JSON shapes, exit codes, on SQLite and
PostgreSQL, driven by the Integris demo school."""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from mis_sync.connectors.integris import demo
from mis_sync.core.cli import main
from mis_sync.core.schema import export_fields
from mis_sync.core.store import Store

RUN_KEYS = [
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
]


@pytest.fixture
def cli(tmp_path, db_url, monkeypatch):
    """`mis-sync ...` in a fresh folder without a config, the demo database at `db_url`."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MIS_SYNC_CONFIG", raising=False)
    monkeypatch.setenv("MIS_SYNC_DEMO_DATABASE", db_url)

    def invoke(*args: str):
        return CliRunner().invoke(main, list(args))

    return invoke


def as_json(result):
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_demo_run_then_an_unchanged_rerun(cli):
    first = cli("run", "integris", "--demo")
    assert first.exit_code == 0, first.stderr
    assert "demo-integris: run 1: inserted" in first.stdout
    assert 'classes: type "Club" does not qualify' in first.stdout
    second = cli("run", "integris", "--demo")
    assert "demo-integris: run 2: inserted 0, updated 0, deleted 0" in second.stdout
    assert "no changes" in second.stdout


def test_run_json_is_the_runs_object_plus_reasons_and_near_duplicates(cli):
    out = as_json(cli("run", "integris", "--demo", "--json"))
    assert list(out)[: len(RUN_KEYS)] == RUN_KEYS
    assert (
        out["status"] == "ok"
        and out["school"] == "demo-integris"
        and out["connector"] == "integris"
    )
    assert out["left_out_by_reason"]['classes: type "Club" does not qualify'] == 1
    assert ["P9005", "P9006", "same email"] in out["near_duplicates"]
    assert ["P9007", "P9008", "same names"] in out["near_duplicates"]
    assert out["left_out"] == sum(out["left_out_by_reason"].values())


def test_runs_lists_newest_first_with_the_stable_shape(cli):
    cli("run", "integris", "--demo")
    cli("run", "integris", "--demo")
    runs = as_json(cli("runs", "--json"))
    assert [r["run"] for r in runs] == [2, 1]
    assert all(set(RUN_KEYS) <= set(r) for r in runs)
    assert runs[0]["started"].endswith("Z") and runs[0]["inserted"] == 0
    assert "integris" in cli("runs").stdout


def test_changes_show_old_and_new_values(cli, monkeypatch):
    cli("run", "integris", "--demo")
    school = demo.generate_school()
    school["students"][0]["Surname"] = "Quenby"
    monkeypatch.setattr(demo, "generate_school", lambda *a, **k: school)
    run2 = as_json(cli("run", "integris", "--demo", "--json"))
    changes = as_json(cli("changes", "--json"))
    assert changes == [
        {
            "run": run2["run"],
            "entity": "students",
            "id": "D0001",
            "op": "update",
            "changes": {"surname": [changes[0]["changes"]["surname"][0], "Quenby"]},
        }
    ]
    assert as_json(cli("changes", "--run", "1", "--json"))[0]["op"] == "insert"


def test_explain_gives_the_chain_of_reasons(cli):
    cli("run", "integris", "--demo")
    assert as_json(cli("explain", "students", demo.STUDENT_CLUB_ONLY, "--json")) == {
        "entity": "students",
        "id": demo.STUDENT_CLUB_ONLY,
        "kept": False,
        "reasons": [
            "in no kept class",
            f'class {demo.CLASS_CLUB} left out: type "Club" does not qualify',
        ],
    }
    text = cli("explain", "students", demo.STUDENT_CLUB_ONLY).stdout
    assert f"students {demo.STUDENT_CLUB_ONLY}: left out" in text and "because class" in text
    assert as_json(cli("explain", "teachers", demo.TEACHER_FIRST, "--json"))["kept"] is True
    assert as_json(cli("explain", "students", "NOPE", "--json"))["reasons"] == [
        "never sent by the source"
    ]


@pytest.mark.parametrize(
    "entity", ["students", "contacts", "contact-links", "teachers", "classes", "groups"]
)
def test_export_json_and_csv_have_exactly_the_canonical_columns(cli, entity):
    cli("run", "integris", "--demo")
    rows = as_json(cli("export", entity, "--json"))
    assert rows and all(list(r) == list(export_fields(entity)) for r in rows)
    key = (
        (lambda r: (r["student_id"], r["contact_id"]))
        if entity == "contact-links"
        else (lambda r: r["id"])
    )
    assert rows == sorted(rows, key=key)
    csv = cli("export", entity, "--format", "csv").stdout.splitlines()
    assert csv[0] == ",".join(export_fields(entity)) and len(csv) == len(rows) + 1


def test_set_room_survives_runs(cli):
    cli("run", "integris", "--demo")
    result = cli("set", "teacher", demo.TEACHER_FIRST, "room", "B12")
    assert result.exit_code == 0, result.stderr
    assert as_json(cli("run", "integris", "--demo", "--json"))["updated"] == 0
    [teacher] = [
        t for t in as_json(cli("export", "teachers", "--json")) if t["id"] == demo.TEACHER_FIRST
    ]
    assert teacher["room"] == "B12"
    refused = cli("set", "teacher", "T-NONE", "room", "B12")
    assert (
        refused.exit_code == 2
        and "teacher T-NONE is not stored: the MIS has never sent it" in refused.stderr
    )


def test_connectors_lists_installed_with_versions(cli):
    rows = as_json(cli("connectors", "--json"))
    assert {"kind": "connector", "name": "integris", "version": "0.1.0"} in rows


@pytest.mark.parametrize(
    "args, code, message",
    [
        (
            ["run", "nosuch", "--demo"],
            2,
            "connector 'nosuch' is not installed (installed: integris",
        ),
        (["run", "integris"], 2, "no config file found"),
        (["run", "integris", "--school", "elm"], 2, "no school 'elm'"),
        (["explain", "pupils", "1"], 2, "'pupils' is not one of 'students'"),
    ],
)
def test_usage_errors_exit_2_with_one_line_and_no_traceback(cli, args, code, message):
    result = cli(*args)
    assert result.exit_code == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_every_command_has_a_one_line_help():
    for name, command in main.commands.items():
        assert command.help and "\n" not in command.help.strip(), name
        result = CliRunner().invoke(main, [name, "--help"])
        assert result.exit_code == 0 and command.help.strip() in result.stdout


def test_progress_shows_on_a_terminal_only(tmp_path):
    """On a terminal a run shows per-resource progress; piped, it prints only the summary."""
    env = {**os.environ, "MIS_SYNC_CONFIG": "", "COLUMNS": "120"}
    pid, fd = pty.fork()
    if pid == 0:  # the child: stdout is the pty
        os.chdir(tmp_path)
        os.execve(
            sys.executable,
            [sys.executable, "-m", "mis_sync.core.cli", "run", "integris", "--demo"],
            env,
        )
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
    on_terminal = b"".join(chunks).decode(errors="replace")
    assert "demo-integris: students" in on_terminal
    piped = subprocess.run(
        [sys.executable, "-m", "mis_sync.core.cli", "run", "integris", "--demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "demo-integris: students" not in piped.stdout and "demo-integris: run 2" in piped.stdout


def _mis_sync(*args: str, cwd, **kwargs):
    env = {**os.environ, "MIS_SYNC_CONFIG": ""}
    return subprocess.Popen(
        [sys.executable, "-m", "mis_sync.core.cli", *args], cwd=cwd, env=env, **kwargs
    )


@pytest.fixture(scope="module")
def demo_synced(tmp_path_factory):
    """The demo database after one demo run, made once: each test copies it."""
    folder = tmp_path_factory.mktemp("demo")
    assert _mis_sync("run", "integris", "--demo", cwd=folder).wait(timeout=60) == 0
    return folder / "mis-sync-demo.db"


@pytest.mark.parametrize(
    "args",
    [
        ("run", "integris", "--demo"),
        ("runs",),  # a rich table
        ("runs", "--json"),
        ("export", "students", "--format", "csv"),
        ("connectors",),
    ],
)
def test_a_reader_that_leaves_early_costs_neither_the_work_nor_a_message(
    tmp_path, demo_synced, args
):
    """`mis-sync runs | head -3`: what the command did stands, it exits 0, stderr is empty."""
    shutil.copy(demo_synced, tmp_path / demo_synced.name)
    proc = _mis_sync(*args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # gone before the command prints a word
    assert proc.wait(timeout=60) == 0
    # nothing but the one-line note that, with no config, the demo database is read
    assert [
        line for line in proc.stderr.read().decode().splitlines() if "demo database" not in line
    ] == []
    runs = _mis_sync("runs", "--json", cwd=tmp_path, stdout=subprocess.PIPE)
    assert {r["status"] for r in json.loads(runs.communicate(timeout=60)[0])} == {"ok"}


def test_a_broken_pipe_that_is_not_stdout_is_still_an_error(tmp_path):
    code = (
        "import sys\n"
        "from mis_sync.core.store import Store\n"
        "def broken(*args, **kwargs):\n"
        "    raise BrokenPipeError(32, 'Broken pipe')\n"
        "Store.runs = broken\n"
        "from mis_sync.core.cli import main\n"
        "main(['runs'])\n"
    )
    env = {**os.environ, "MIS_SYNC_CONFIG": ""}
    (tmp_path / "mis-sync.toml").write_text('database = "sqlite:///mis-sync.db"\n')
    Store(f"sqlite:///{tmp_path / 'mis-sync.db'}").close()
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "internal error: BrokenPipeError" in result.stderr


def test_an_internal_error_is_one_line_without_a_traceback(cli, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("something no one expected")

    monkeypatch.setattr("mis_sync.core.pipeline.run_school", broken)
    result = cli("run", "integris", "--demo")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "mis-sync: internal error: RuntimeError: something no one expected"
        " (mis-sync -vv shows where)"
    ]
