"""CLI tests here find their config in the folder they run in."""

import pytest


@pytest.fixture(autouse=True)
def _no_config_from_the_environment(monkeypatch):
    # core/tasks.py sets MIS_SYNC_CONFIG in-process when a worker task runs (tests/integris run
    # tasks eagerly), which would point these tests at another config.
    monkeypatch.delenv("MIS_SYNC_CONFIG", raising=False)
