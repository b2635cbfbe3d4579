"""Fixtures of the dashboard's tests: the tiny school (tests/core/tiny.py) synced into a store
on both databases, a second school whose last run failed, and users of each kind."""

from __future__ import annotations

import re

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from mis_sync.core.config import load_config
from mis_sync.core.store import Store
from mis_sync.core.web import create_app
from mis_sync.core.web.auth import EDITOR, VIEWER, User

from ..core.conftest import school  # noqa: F401 - the tiny school behind the CLI

PASSWORD = "correct horse battery"  # made up for the tests; never a default of the app
# cheap argon2 parameters keep logins fast in tests; verify reads them from the hash itself
_HASH = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
USERS = {
    "op": User("op", EDITOR, None, _HASH),
    "viewer": User("viewer", VIEWER, None, _HASH),
    "elm-dm": User("elm-dm", EDITOR, frozenset({"elm"}), _HASH),
}


def failed_school(store: Store, key: str = "elm") -> int:
    """A school whose only run failed, as a run that could not reach its MIS leaves it."""
    run = store.start_run(key, "integris")
    store.fail_run(run, "failed", "source failed: HTTP 503 from datashare.example.org")
    return run


@pytest.fixture
def web(school, db_url, tmp_path):  # noqa: F811 - the fixture imported above
    """The app over the tiny school's store (`demo-integris`, run 1) and `elm` (failed run 2)."""
    school.run()
    store = Store(db_url)
    failed_school(store)
    # the dashboard's own config, naming the store; the CLI of `school` reads the demo database
    # (the same one) with no config of its own
    config = tmp_path / "web.toml"
    config.write_text(f'database = "{db_url}"\n')
    app = create_app(store, load_config(config), USERS)
    app.state.school = school
    yield app
    store.close()


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(app, name: str = "op") -> TestClient:
    client = TestClient(app, follow_redirects=False)
    page = client.get("/login")
    answer = client.post(
        "/login", data={"user": name, "password": PASSWORD, "csrf_token": csrf_of(page.text)}
    )
    assert answer.status_code == 303, answer.text
    return client
