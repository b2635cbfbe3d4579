"""The operator contract (issue 13): the script contract of cli.md: run --json whatever the
outcome, runs, export, set, --quiet, progress, hook tracing without records, quoted hints."""

from __future__ import annotations

import json

import pytest

from mis_sync.connectors import oneroster
from mis_sync.core.store import Store

from .operator_support import (
    one_line,
    trust_config,
)

# the fixtures `mis_sync` and `trust`
pytest_plugins = ["tests.core.operator_support"]

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
    "merged",
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
        "merged",
    ]
    first = lines[1]
    assert first.split()[0] == str(rows[0]["run"]) and first.split()[1] == "ok"
    assert first.endswith(
        f"{rows[0]['left_out']:>7}{rows[0]['merged']:>7}"
    )  # numbers right-aligned
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


def test_o_into_a_folder_that_is_not_there_is_a_usage_error(trust, mis_sync, tmp_path):
    target = tmp_path / "no-such-folder" / "x.csv"
    for args in (["export", "students", "--school", "north"], ["left-out", "--school", "north"]):
        result = mis_sync("--config", str(trust), *args, "-o", str(target))
        assert result.exit_code == 2, result.stderr
        assert result.stderr.splitlines()[-1] == (
            f"mis-sync: error: {target}: cannot write there: No such file or directory"
        )
        assert "internal error" not in result.stderr
