"""Who may look: users from the config's `[web.users]` table, sessions, roles, school scope.

Every route depends on `current_user`: a browser logs in once (a signed session cookie), a
script sends HTTP Basic with the same name and password. Passwords are kept only as argon2
hashes; with no user configured, `mis-sync serve` makes a one-off random password for an
`operator` editor and prints it (loopback only), so there is never a default password.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import HTTPException, Request

VIEWER, EDITOR = "viewer", "editor"
_hasher = PasswordHasher()


@dataclass(frozen=True)
class User:
    name: str
    role: str
    schools: frozenset[str] | None  # None: every school
    password_hash: str

    def sees(self, school: str) -> bool:
        return self.schools is None or school in self.schools


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def users_from_config(config) -> dict[str, User]:
    return {
        name: User(
            name,
            u.role,
            None if u.schools is None else frozenset(u.schools),
            u.password_hash,
        )
        for name, u in config.web.users.items()
    }


def one_off_user() -> tuple[dict[str, User], str]:
    """An `operator` editor with a random password, for this process only (the demo)."""
    password = secrets.token_urlsafe(18)
    return {"operator": User("operator", EDITOR, None, hash_password(password))}, password


def check_password(users: dict[str, User], name: str, password: str) -> User | None:
    """The user, if the password matches; the same work is done for an unknown name, so the
    answer's timing does not say which names exist."""
    user = users.get(name)
    try:
        _hasher.verify(user.password_hash if user else _DUMMY, password)
    except (VerificationError, InvalidHashError):
        return None
    return user


_DUMMY = _hasher.hash(secrets.token_urlsafe(18))


class LoginRequired(Exception):
    """Not logged in: a page redirects to /login, the API answers 401."""


def current_user(request: Request) -> User:
    users: dict[str, User] = request.app.state.users
    name = request.session.get("user")
    if name in users:
        return users[name]
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            given, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            given = password = ""
        user = check_password(users, given, password)
        if user is not None:
            return user
    raise LoginRequired


def editor(request: Request) -> User:
    user = current_user(request)
    if user.role != EDITOR:
        raise HTTPException(403, "this needs the editor role")
    return user
