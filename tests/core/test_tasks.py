"""The Celery task's own decisions, run eagerly (no broker): retry only what may pass."""

from __future__ import annotations

import os

import pytest

from mis_sync.core import tasks
from mis_sync.core.config import load_config
from mis_sync.core.errors import (
    ConfigError,
    LockLost,
    SafeguardStop,
    SchoolBusy,
    SourceError,
    StoreError,
)


@pytest.fixture
def attempts(monkeypatch, tmp_path):
    """Run sync_school with run_school replaced by `outcomes`, one an attempt (the last one
    again for any further attempt); count the attempts."""
    config = tmp_path / "mis-sync.toml"
    config.write_text(
        f'database = "sqlite:///{tmp_path / "t.db"}"\n[schools.oak]\nconnector = "integris"\n'
    )
    monkeypatch.setattr(tasks.pipeline, "prepare", lambda config, key: (None, None))
    calls: list[int] = []

    def run(*outcomes):
        def fake_run(*args, **kwargs):
            calls.append(1)
            outcome = outcomes[min(len(calls), len(outcomes)) - 1]
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


def test_a_run_that_lost_its_school_lock_is_retried_like_a_transient_failure(attempts):
    """The lock's database connection died (a restart, a failover): nothing was stored, and
    a later try may pass, as after a source that kept answering 503."""
    lost = LockLost("school 'oak': the run lost the school's lock before it could commit")
    result, tries = attempts(lost)
    assert result.state == "FAILURE" and tries == 1 + len(tasks.RETRY_DELAYS)


def test_a_lost_lock_is_retried_then_the_run_passes(attempts):
    result, tries = attempts(LockLost("lost"), {"school": "oak", "status": "ok"})
    assert result.state == "SUCCESS" and result.result["status"] == "ok" and tries == 2


@pytest.mark.parametrize(
    "exc, retried",
    [
        (SourceError("503 five times", transient=True), True),
        (LockLost("lost"), True),
        (SourceError("permission not granted"), False),
        (ConfigError("a typo"), False),
        (SafeguardStop("mass delete"), False),
        (StoreError("the database refused the write"), False),
    ],
    ids=["transient-source", "lost-lock", "permanent-source", "config", "safeguard", "store"],
)
def test_which_failures_a_worker_tries_again_and_how_long_it_waits(exc, retried):
    delays = [tasks.retry_after(exc, n) for n in range(len(tasks.RETRY_DELAYS) + 1)]
    if retried:
        assert delays == [*tasks.RETRY_DELAYS, None]  # then it gives up
    else:
        assert delays == [None] * len(delays)
