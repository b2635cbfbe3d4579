"""Recorded Datashare sessions replayed through `mis-sync run` with vcrpy in record mode
"none": no test can reach a network. Re-record with `python -m tests.integris.record_cassettes`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mis_sync.connectors.integris.wire import PERSONAL_FIELDS
from mis_sync.core import cassettes

from .support import SECRET, cli, write_config

FOLDER = Path(__file__).resolve().parents[1] / "cassettes" / "integris"
REPLAY_URL = f"http://127.0.0.1:{cassettes.REPLAY_PORT}/api"


@pytest.fixture
def replay(tmp_path, db_url, monkeypatch):
    monkeypatch.setattr("mis_sync.core.http.time.sleep", lambda seconds: None)
    config = write_config(tmp_path, db_url, REPLAY_URL, page_limit=50)

    def run(name: str, *args: str):
        with cassettes.vcr(str(FOLDER)).use_cassette(f"{name}.yaml") as cassette:
            result = cli("--config", str(config), *args)
        return result, cassette

    run.config = str(config)
    return run


def test_clean_run_replays_and_a_second_run_changes_nothing(replay):
    result, cassette = replay("clean", "run", "integris", "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["inserted"] > 100 and summary["status"] == "ok"
    assert cassette.all_played
    again, _ = replay("clean", "run", "integris", "--json")
    assert json.loads(again.stdout)["inserted"] == 0
    assert json.loads(again.stdout)["updated"] == 0


def test_rate_limit_outage_and_token_expiry_replay_to_the_same_result(replay):
    clean, _ = replay("clean", "run", "integris", "--dry-run", "--json")
    result, cassette = replay("transient", "run", "integris", "--json")
    assert result.exit_code == 0, result.stderr
    assert cassette.all_played
    statuses = [r["status"]["code"] for r in cassette.responses]
    assert {429, 503, 401} <= set(statuses)
    token_calls = [r for r in cassette.requests if r.path.endswith("/oauth/token")]
    assert len(token_calls) == 2
    assert json.loads(result.stdout)["inserted"] == json.loads(clean.stdout)["inserted"]


def test_permission_not_granted_replays_as_exit_1(replay):
    result, _ = replay("permission", "run", "integris")
    assert result.exit_code == 1
    assert "'Basic information about a student'" in result.stderr


def test_malformed_page_replays_as_exit_1_and_stores_nothing(replay):
    result, _ = replay("malformed", "run", "integris")
    assert result.exit_code == 1
    assert "students page 2: the page has the wrong shape" in result.stderr
    assert json.loads(cli("--config", replay.config, "export", "students", "--json").stdout) == []


@pytest.mark.parametrize("path", cassettes.cassette_files(str(FOLDER)), ids=lambda p: Path(p).name)
def test_no_cassette_holds_a_secret_a_token_or_personal_data(path):
    text = Path(path).read_text()
    assert cassettes.find_secrets(text) == []
    assert SECRET not in text
    for field, kind in PERSONAL_FIELDS.items():
        for value in re.findall(rf'"{field}":"([^"]*)"', text):
            if not value.strip():
                continue  # blank is no data
            if kind == "name":
                assert re.fullmatch(r"(N[0-9a-f]{8}\d+(\s+(and|&)\s+)?)+", value, re.I), (
                    field,
                    value,
                )
            elif kind == "email":
                assert re.fullmatch(r"p[0-9a-f]{8}@example\.org", value), (field, value)
            elif kind == "date":
                assert value == "2000-01-01"
