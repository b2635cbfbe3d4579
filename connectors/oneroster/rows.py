"""The rows of an exchange, as read and as kept between runs in the source state.

array_like: the state of a large school stays small. Only what the mapping reads is kept.
"""

from __future__ import annotations

from typing import Literal

import msgspec

Mode = Literal["bulk", "delta", "absent"]


class Org(msgspec.Struct, array_like=True):
    modified: str | None
    name: str | None
    type: str | None


class Role(msgspec.Struct, array_like=True):
    """A 1.2 roles.csv row: a user's role in one org."""

    modified: str | None
    user: str
    role: str
    org: str


class User(msgspec.Struct, array_like=True):
    modified: str | None
    role: str | None  # 1.1 users.csv's own; 1.2 puts roles in roles.csv
    orgs: list[str]
    given: str | None
    family: str | None
    preferred: str | None
    preferred_family: str | None
    email: str | None
    phone: str | None
    agents: list[str]
    grades: list[str]
    title: str | None


class Klass(msgspec.Struct, array_like=True):
    modified: str | None
    title: str | None
    code: str | None
    type: str
    school: str


class Enrollment(msgspec.Struct, array_like=True):
    modified: str | None
    klass: str
    school: str | None
    user: str
    role: str
    primary: bool


class Demographic(msgspec.Struct, array_like=True):
    modified: str | None
    birth_date: str | None


class Gone(msgspec.Struct, array_like=True):
    """A row sent as `tobedeleted`: when, and which orgs and role it named (for explain)."""

    modified: str | None
    orgs: list[str] = []
    role: str | None = None


class Table(msgspec.Struct, kw_only=True):
    """One file of the exchange: its manifest mode, and its rows in file order.

    A row sent as `tobedeleted` is in `deleted`; a sourcedId sent twice counts once, as its
    last row says.
    """

    mode: Mode
    rows: dict[str, msgspec.Struct] = {}
    deleted: dict[str, Gone] = {}
    repeated: list[str] = []


class Exchange(msgspec.Struct, kw_only=True):
    where: str
    version: str
    tables: dict[str, Table]
    warnings: list[str] = []
    # every org the exchange gives classes, and users (1.1 rows, 1.2 roles): for messages
    orgs_with_classes: set[str] = set()
    orgs_with_users: set[str] = set()
