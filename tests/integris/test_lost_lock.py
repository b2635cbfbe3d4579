"""The lock cannot be lost, end to end: `mis-sync run` against a Datashare that stalls
mid-fetch while the school's lock backend is killed stores nothing, says so in one line and
exits 2; a Ctrl-C landing after the commit still exits 0 with the run reported as stored."""

from __future__ import annotations

import json
import threading

import pytest

from mis_sync.connectors.integris.fake import Fault, serve

from ..core.test_lock import kill_lock_backend
from .support import cli, fake, small, write_config


@pytest.mark.timeout(30)
def test_a_run_whose_lock_backend_dies_mid_fetch_stores_nothing_and_exits_2(pg_url, tmp_path):
    from tests.conftest import reset_postgres

    reset_postgres(pg_url)
    server = fake(faults=[Fault(kind="delay", resource="classes", seconds=1.0)])
    killed = []

    def kill_when_stalled():
        if server.delayed.wait(timeout=20):
            killed.append(kill_lock_backend(pg_url, "oak"))

    with serve(server) as base_url:
        config = str(write_config(tmp_path, pg_url, base_url))
        killer = threading.Thread(target=kill_when_stalled)
        killer.start()
        result = cli("--config", config, "run", "integris")
        killer.join(timeout=20)
    assert killed == [1]
    assert result.exit_code == 2, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("mis-sync: error: school 'oak': the run lost the school's lock")
    assert line.endswith("nothing was stored; run it again")
    runs = json.loads(cli("--config", config, "runs", "--json").stdout)
    assert [(r["status"], r["inserted"]) for r in runs] == [("failed", 0)]
    assert json.loads(cli("--config", config, "export", "students", "--json").stdout) == []


def test_ctrl_c_after_the_commit_exits_0_and_shows_the_stored_run(db_url, tmp_path, monkeypatch):
    from mis_sync.core.store import Store

    real_apply = Store.apply

    def apply_then_interrupt(self, *args, **kwargs):
        summary = real_apply(self, *args, **kwargs)
        if args[0] is not None:  # a real run, not a dry run
            raise KeyboardInterrupt
        return summary

    monkeypatch.setattr(Store, "apply", apply_then_interrupt)
    server = fake(small())
    with serve(server) as base_url:
        config = str(write_config(tmp_path, db_url, base_url))
        result = cli("--config", config, "run", "integris", "--json")
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["status"] == "ok" and shown["inserted"] > 0
    changes = json.loads(cli("--config", config, "changes", "--json").stdout)
    assert len(changes) == shown["inserted"]


def test_ctrl_c_while_the_result_prints_says_the_run_was_stored(db_url, tmp_path, monkeypatch):
    from mis_sync.core.cli import running

    def interrupted(result):
        raise KeyboardInterrupt

    monkeypatch.setattr(running, "print_json", interrupted)
    with serve(fake(small())) as base_url:
        config = str(write_config(tmp_path, db_url, base_url))
        result = cli("--config", config, "run", "integris", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == "mis-sync: interrupted after run 1 was stored\n"
    [run] = json.loads(cli("--config", config, "runs", "--json").stdout)
    assert run["status"] == "ok" and run["inserted"] > 0


def test_ctrl_c_after_run_school_returned_says_the_run_was_stored(db_url, tmp_path, monkeypatch):
    """Wherever the interrupt lands after the commit, the runs table is asked, not guessed."""
    from mis_sync.core import pipeline

    real = pipeline.run_school

    def returned_then_interrupted(*args, **kwargs):
        real(*args, **kwargs)
        raise KeyboardInterrupt  # e.g. in a decorator's exit, past the pipeline's own guard

    monkeypatch.setattr(pipeline, "run_school", returned_then_interrupted)
    with serve(fake(small())) as base_url:
        config = str(write_config(tmp_path, db_url, base_url))
        result = cli("--config", config, "run", "integris")
    assert (result.exit_code, result.stderr) == (
        0,
        "mis-sync: interrupted after run 1 was stored\n",
    )


def test_ctrl_c_before_anything_was_stored_says_so(db_url, tmp_path, monkeypatch):
    from mis_sync.core.store import Store

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Store, "apply", interrupted)
    with serve(fake(small())) as base_url:
        config = str(write_config(tmp_path, db_url, base_url))
        result = cli("--config", config, "run", "integris")
    assert (result.exit_code, result.stderr) == (1, "mis-sync: interrupted; nothing was stored\n")
