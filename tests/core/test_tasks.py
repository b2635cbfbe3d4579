"""The Celery task's own decisions, run eagerly (no broker): retry only what may pass."""

from __future__ import annotations

import os

import pytest

from mis_sync.core import tasks
from mis_sync.core.config import load_config
from mis_sync.core.errors import SchoolBusy, SourceError


@pytest.fixture
def attempts(monkeypatch, tmp_path):
    """Run sync_school with run_school replaced by `outcome`; count the attempts."""
    config = tmp_path / "mis-sync.toml"
    config.write_text(
        f'database = "sqlite:///{tmp_path / "t.db"}"\n[schools.oak]\nconnector = "integris"\n'
    )
    monkeypatch.setattr(tasks.pipeline, "prepare", lambda config, key: (None, None))
    calls: list[int] = []

    def run(outcome):
        def fake_run(*args, **kwargs):
            calls.append(1)
            if isinstance(outcome, Exception):
                raise outcome
            return outcome

        monkeypatch.setattr(tasks.pipeline, "run_school", fake_run)
        return tasks.sync_school.apply(args=(str(config), "oak")), len(calls)

    return run


def test_a_transient_source_failure_is_retried_a_bounded_number_of_times(attempts):
    result, tries = attempts(SourceError("gave up after 5 tries over 100.0s", transient=True))
    assert result.state == "FAILURE" and tries == 1 + len(tasks.RETRY_DELAYS)


def test_a_permanent_source_failure_is_not_retried(attempts):
    result, tries = attempts(SourceError("permission not granted"))
    assert result.state == "FAILURE" and tries == 1


def test_a_school_held_by_another_run_is_done_not_failed(attempts):
    result, tries = attempts(SchoolBusy("school 'oak': another run holds it"))
    assert result.state == "SUCCESS" and result.result["status"] == "busy" and tries == 1


def test_worker_settings_deliver_at_least_once_one_at_a_time():
    conf = tasks.app.conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_time_limit == tasks.TASK_TIME_LIMIT


def test_dispatching_leaves_the_process_environment_alone(tmp_path, monkeypatch):
    monkeypatch.delenv("MIS_SYNC_CONFIG", raising=False)
    path = tmp_path / "mis-sync.toml"
    path.write_text('broker = "redis://127.0.0.1:6379/15"\n[schools.oak]\nconnector = "integris"\n')
    tasks.configure(load_config(path))
    assert "MIS_SYNC_CONFIG" not in os.environ
