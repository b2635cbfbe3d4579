"""The connector author's path, walked: scaffold, install, run the generated tests (the kit),
then `mis-sync run NAME` on the sample data and see records stored."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from mis_sync.core.cli import main


def test_a_scaffolded_connector_installs_passes_its_kit_and_syncs(tmp_path):
    made = CliRunner().invoke(main, ["new-connector", "acme", "--dest", str(tmp_path)])
    assert made.exit_code == 0, made.stderr
    package = tmp_path / "mis-sync-acme"
    assert (package / "mis_sync_acme" / "sample" / "students.json").is_file()
    assert (package / "tests" / "cassettes" / ".keep").is_file()
    assert (package / "docs" / "acme.md").is_file()

    # Installed beside this environment (no network, no build isolation), found by PYTHONPATH.
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(package),
        ],
        check=True,
        capture_output=True,
    )
    env = {**os.environ, "PYTHONPATH": str(site), "MIS_SYNC_CONFIG": ""}
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(package / "tests")],
        cwd=package,
        env=env,
        capture_output=True,
        text=True,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "5 passed" in tests.stdout

    work = tmp_path / "work"
    work.mkdir()
    cli = [sys.executable, "-m", "mis_sync.core.cli"]
    listed = subprocess.run(
        [*cli, "connectors", "--json"], cwd=work, env=env, capture_output=True, text=True
    )
    assert {"kind": "connector", "name": "acme", "version": "0.1.0"} in json.loads(listed.stdout)
    run = subprocess.run(
        [*cli, "run", "acme", "--demo"], cwd=work, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert "demo: run 1: inserted" in run.stdout
    students = subprocess.run(
        [*cli, "export", "students"], cwd=work, env=env, capture_output=True, text=True
    )
    assert len(json.loads(students.stdout)) == 9  # ten in the sample; one only in the chess club


@pytest.mark.parametrize(
    "name, message",
    [
        ("Acme", "use 2 to 40 lower-case letters"),
        ("9lives", "use 2 to 40 lower-case letters"),
        ("class", "use 2 to 40 lower-case letters"),
        ("integris", "a connector of that name is installed"),
    ],
)
def test_new_connector_refuses_a_bad_name(tmp_path, name, message):
    result = CliRunner().invoke(main, ["new-connector", name, "--dest", str(tmp_path)])
    assert result.exit_code == 2
    assert message in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_new_connector_refuses_an_existing_folder(tmp_path):
    (tmp_path / "mis-sync-acme").mkdir()
    result = CliRunner().invoke(main, ["new-connector", "acme", "--dest", str(tmp_path)])
    assert result.exit_code == 2
    assert "already exists" in result.stderr


def test_template_code_stays_small():
    """The template is read before it is copied: keep it to about 150 lines of code."""
    from importlib.resources import files

    from mis_sync.core.scaffold import CODE, TEMPLATE

    text = "\n".join(files(TEMPLATE).joinpath(m).read_text() for m in CODE)
    lines = [
        line for line in text.splitlines() if line.strip() and not line.strip().startswith("#")
    ]
    assert len(lines) <= 150, len(lines)
