import pytest

from .support import SECRET, SECRET_ENV


@pytest.fixture(autouse=True)
def datashare_secret(monkeypatch):
    """The fake's client secret, in the environment variable the test config names."""
    monkeypatch.setenv(SECRET_ENV, SECRET)
