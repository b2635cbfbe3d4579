"""What the operator-contract tests share (issue 13, cli.md): a trust of two schools, `north`
and `south`, read by the OneRoster connector from its bundled sample (no network needed),
and `mis-sync` run through CliRunner in a folder with no config."""

from __future__ import annotations

import json
import os

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


def synced_trust(folder, database: str, mis_sync):
    """A config of two schools in `database` at `folder`/trust.toml, synced once."""
    path = folder / "trust.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(trust_config(database))
    result = mis_sync("--config", str(path), "run", "oneroster")
    assert result.exit_code == 0, result.stderr
    return path


@pytest.fixture
def trust(tmp_path, db_url, mis_sync):
    """A config of two schools in `db_url`, synced once; returns the config's path."""
    return synced_trust(tmp_path / "etc", db_url, mis_sync)


def one_line(result) -> str:
    """The error's single stderr line; never a traceback."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return lines[0]


INTEGRIS = """\
database = "sqlite:///mis-sync.db"

[schools."st-mary"]
connector = "integris"
base_url = "https://datashare.example.org/api"
school_id = "1234"
client_id = "st-mary-sync"
client_secret_env = "ST_MARY_SECRET"
"""


PASSWORD = "Pa55-word-never-shown"


def _with_database(database: str) -> None:
    """A config naming `database`, readable by its owner only (as a config with a database
    password should be: a world-readable one gets a warning line of its own)."""
    with open("mis-sync.toml", "w") as f:
        f.write(trust_config(database))
    os.chmod("mis-sync.toml", 0o600)
