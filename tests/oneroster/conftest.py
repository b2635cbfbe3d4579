"""CLI tests here find their config in the folder they run in."""

import pytest


@pytest.fixture(autouse=True)
def _no_config_from_the_environment(monkeypatch):
    # an operator's shell may set MIS_SYNC_CONFIG, which would point these tests elsewhere
    monkeypatch.delenv("MIS_SYNC_CONFIG", raising=False)
