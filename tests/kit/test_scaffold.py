"""The connector author's path, walked: scaffold, install, run the generated tests (the kit),
then `mis-sync run NAME` on the sample data and see records stored."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from click.testing import CliRunner

from mis_sync.core.cli import main


def throwaway_venv(where: Path) -> Path:
    """A venv that sees exactly this environment's packages (mis-sync, pytest, pip, setuptools).

    `--system-site-packages` is not enough when this interpreter is itself a venv: the new
    one would see the base interpreter's packages, not ours. So a .pth file adds our site
    directories (running their .pth files too, such as mis-sync's editable finder) after the
    new venv's own, where the scaffolded package gets installed.
    """
    venv.EnvBuilder(with_pip=False).create(where)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    ours = [
        *site.getsitepackages(),
        *([site.getusersitepackages()] if site.ENABLE_USER_SITE else []),
    ]
    lines = [f"import site; site.addsitedir({p!r})" for p in ours if Path(p).is_dir()]
    pth = where / "lib" / version / "site-packages" / "_outer_environment.pth"
    pth.write_text("\n".join(lines) + "\n")
    return where / "bin" / "python"


def test_a_scaffolded_connector_installs_passes_its_kit_and_syncs(tmp_path):
    made = CliRunner().invoke(main, ["new-connector", "acme", "--dest", str(tmp_path)])
    assert made.exit_code == 0, made.stderr
    package = tmp_path / "mis-sync-acme"
    assert (package / "mis_sync_acme" / "sample" / "students.json").is_file()
    assert (package / "tests" / "cassettes" / ".keep").is_file()
    assert (package / "docs" / "acme.md").is_file()

    python = throwaway_venv(tmp_path / "venv")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["MIS_SYNC_CONFIG"] = ""

    def run(*args: str, cwd: Path = package) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(python), *args], cwd=cwd, env=env, capture_output=True, text=True
        )

    # As the guide says: pip install -e (here with no network and no build isolation).
    pip = ("-m", "pip", "--disable-pip-version-check", "install", "-q", "--no-index")
    installed = run(*pip, "--no-deps", "--no-build-isolation", "-e", str(package))
    assert installed.returncode == 0, installed.stdout + installed.stderr

    tests = run("-m", "pytest", "-q", "-p", "no:cacheprovider", "tests")
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "6 passed" in tests.stdout, tests.stdout

    work = tmp_path / "work"
    work.mkdir()
    cli = ("-m", "mis_sync.core.cli")  # the `mis-sync` console script's target
    listed = run(*cli, "connectors", "--json", cwd=work)
    assert {"kind": "connector", "name": "acme", "version": "0.1.0"} in json.loads(listed.stdout)
    synced = run(*cli, "run", "acme", "--demo", cwd=work)
    assert synced.returncode == 0, synced.stderr
    assert "demo-acme: run 1: inserted" in synced.stdout
    assert (work / "mis-sync-demo.db").is_file() and not (work / "mis-sync.db").exists()
    students = run(*cli, "export", "students", "--json", cwd=work)
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
