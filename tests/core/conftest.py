"""Fixtures of core's tests: the tiny school behind the CLI (tests/core/tiny.py)."""

from __future__ import annotations

import copy
import json

import pytest
from click.testing import CliRunner

from mis_sync.connectors.integris import demo
from mis_sync.core.cli import main

from .tiny import tiny


@pytest.fixture
def school(tmp_path, db_url, monkeypatch):
    """`mis-sync ...` over the tiny school, served as the demo (school key `demo-integris`).

    `school.data` is what the next `run integris --demo` fetches; change it between runs.
    """
    monkeypatch.chdir(tmp_path)  # no config file: every command reads the demo database
    monkeypatch.delenv("MIS_SYNC_CONFIG", raising=False)
    monkeypatch.setenv("MIS_SYNC_DEMO_DATABASE", db_url)

    class School:
        data = tiny()

        def __call__(self, *args: str):
            return CliRunner().invoke(main, list(args))

        def json(self, *args: str):
            result = self(*args, "--json")
            assert result.exit_code == 0, result.stderr
            return json.loads(result.stdout)

        def run(self, *args: str):
            result = self("run", "integris", "--demo", *args)
            assert result.exit_code in (0, 3), result.stderr
            return result

    it = School()
    monkeypatch.setattr(demo, "generate_school", lambda *a, **k: copy.deepcopy(it.data))
    return it
