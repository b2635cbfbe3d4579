"""`mis-sync serve`: loopback by default, another host only with --public and configured users,
never a default password, config errors in [web] are one line with exit 2."""

from __future__ import annotations

import pytest
import uvicorn
from argon2 import PasswordHasher
from click.testing import CliRunner

from mis_sync.core.cli import main
from mis_sync.core.store import Store


@pytest.fixture
def served(monkeypatch, tmp_path):
    """What `serve` hands uvicorn, instead of serving."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MIS_SYNC_CONFIG", raising=False)
    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    return calls


def _config(tmp_path, users: str = "") -> None:
    """A config naming a store that exists: `serve` only reads it, and never creates one."""
    url = f"sqlite:///{tmp_path / 'm.db'}"
    Store(url).close()
    (tmp_path / "mis-sync.toml").write_text(f'database = "{url}"\n' + users, encoding="utf-8")


def test_serve_binds_loopback_with_a_one_off_password_when_no_user_is_configured(served, tmp_path):
    _config(tmp_path)
    result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code == 0, result.output
    ((app, options),) = served
    assert (options["host"], options["port"], options["access_log"]) == ("127.0.0.1", 8800, False)
    password = result.output.split("password ")[1].split()[0]
    assert len(password) >= 20
    user = app.state.users["operator"]
    assert user.role == "editor" and password not in user.password_hash
    again = CliRunner().invoke(main, ["serve"])
    assert again.output.split("password ")[1].split()[0] != password  # never a fixed one


def test_another_host_needs_public_and_configured_users(served, tmp_path):
    _config(tmp_path)
    refused = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0"])
    assert refused.exit_code == 2 and "pass --public" in refused.stderr
    no_users = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0", "--public"])
    assert no_users.exit_code == 2 and "configure [web.users]" in no_users.stderr
    assert served == []
    hashed = PasswordHasher().hash("made-up-for-this-test")
    _config(tmp_path, f'[web.users.ops]\npassword_hash = "{hashed}"\nrole = "editor"\n')
    ok = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0", "--public", "--port", "9000"])
    assert ok.exit_code == 0, ok.output
    assert "password" not in ok.output
    ((app, options),) = served
    assert (options["host"], options["port"]) == ("0.0.0.0", 9000)
    assert set(app.state.users) == {"ops"}


def test_a_typo_in_the_web_table_is_one_line_naming_the_key(served, tmp_path):
    _config(tmp_path, '[web.users.ops]\npassword_hash = "x"\nrole = "admin"\n')
    result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code == 2
    assert "web.users" in result.stderr and "role" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    _config(tmp_path, '[web.users.ops]\npassword = "plain"\n')
    plain = CliRunner().invoke(main, ["serve"])
    assert plain.exit_code == 2 and "password" in plain.stderr
    assert served == []


def test_hash_password_prints_an_argon2_hash_that_verifies(served, tmp_path):
    _config(tmp_path)
    result = CliRunner().invoke(main, ["serve", "--hash-password"], input="s3cret-x\ns3cret-x\n")
    assert result.exit_code == 0, result.output
    hashed = result.output.strip().splitlines()[-1]
    assert hashed.startswith("$argon2") and "s3cret-x" not in hashed
    assert PasswordHasher().verify(hashed, "s3cret-x")
    assert served == []
