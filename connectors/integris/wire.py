"""Datashare records as msgspec Structs (datashare-wire.md), decoded straight from page bytes.

A page is decoded with each record left as raw bytes, then each record on its own, so one
bad record is left out with a reason and the rest of the page still counts.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

import msgspec
from msgspec import field

MAX_TEXT = 1000  # no real name, email or description is longer; a 1 MB string is an error
Text = Annotated[str, msgspec.Meta(max_length=MAX_TEXT)] | None
Ids = list[Annotated[str, msgspec.Meta(max_length=MAX_TEXT)]] | None
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class Record(msgspec.Struct, rename="pascal", kw_only=True):
    """Base: a record's ID fields must be non-blank strings; ID_FIELDS names them."""

    ID_FIELDS: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in self.ID_FIELDS:
            if not getattr(self, _attr(name)).strip():
                raise ValueError(f"field {name}: blank ID")


class Student(Record):
    ID_FIELDS = ("StudentID",)
    student_id: str = field(name="StudentID")
    known_name: Text = None
    legal_forename: Text = None
    surname: Text = None
    date_of_birth: Text = None
    year_group: Text = None
    registration_group: Text = None

    def __post_init__(self) -> None:
        super().__post_init__()
        dob = (self.date_of_birth or "").strip()
        if dob:
            try:
                if not _ISO_DATE.fullmatch(dob):
                    raise ValueError
                date.fromisoformat(dob)
            except ValueError:
                # the value stays out of the message: it is a pupil's personal data
                raise ValueError("field DateOfBirth: not a YYYY-MM-DD date") from None


class Contact(Record):
    ID_FIELDS = ("ContactID",)
    contact_id: str = field(name="ContactID")
    title: Text = None
    forename: Text = None
    surname: Text = None
    email: Text = None
    phone: Text = None
    relationship: Text = None


class ContactLink(Record):
    ID_FIELDS = ("StudentID", "ContactID")
    student_id: str = field(name="StudentID")
    contact_id: str = field(name="ContactID")
    relationship: Text = None
    parental_responsibility: bool | None = None


class Staff(Record):
    ID_FIELDS = ("StaffID",)
    staff_id: str = field(name="StaffID")
    title: Text = None
    forename: Text = None
    surname: Text = None
    email: Text = None


class Class(Record):
    ID_FIELDS = ("ClassID",)
    class_id: str = field(name="ClassID")
    class_code: Text = None
    description: Text = None
    type: Text = None
    staff_id1: Text = field(name="StaffID1", default=None)
    staff_id2: Text = field(name="StaffID2", default=None)
    staff_ids: Ids = field(name="StaffIDs", default=None)
    student_ids: Ids = field(name="StudentIDs", default=None)


class Group(Record):
    ID_FIELDS = ("GroupID",)
    group_id: str = field(name="GroupID")
    description: Text = None
    type: Text = None
    student_ids: Ids = field(name="StudentIDs", default=None)


class Meta(msgspec.Struct):
    next_cursor: str | None = None
    total: int | None = None


class Page(msgspec.Struct):
    data: list[msgspec.Raw]
    meta: Meta


# Datashare resource → (wire struct, canonical entity), in the order a run fetches them.
RESOURCES: dict[str, tuple[type[Record], str]] = {
    "students": (Student, "students"),
    "contacts": (Contact, "contacts"),
    "contact-links": (ContactLink, "contact-links"),
    "staff": (Staff, "teachers"),
    "classes": (Class, "classes"),
    "groups": (Group, "groups"),
}

RAW_PAGE_DECODER = msgspec.json.Decoder(Page)
DECODERS = {name: msgspec.json.Decoder(cls) for name, (cls, _) in RESOURCES.items()}
PAGE_DECODERS = {
    name: msgspec.json.Decoder(
        msgspec.defstruct(f"{cls.__name__}Page", [("data", list[cls]), ("meta", Meta)])
    )
    for name, (cls, _) in RESOURCES.items()
}
_LOOSE = msgspec.json.Decoder()
_PATH = re.compile(r"\s*- at `\$\.?([^`]*)`")


def _attr(wire_name: str) -> str:
    return {
        "StudentID": "student_id",
        "ContactID": "contact_id",
        "StaffID": "staff_id",
        "ClassID": "class_id",
        "GroupID": "group_id",
    }[wire_name]


def describe_invalid(
    resource: str, raw: bytes, error: msgspec.ValidationError
) -> tuple[str | None, str]:
    """The record's ID if one can be read, and a reason naming resource, ID and field."""
    cls = RESOURCES[resource][0]
    rid = None
    try:
        loose = _LOOSE.decode(raw)
        if isinstance(loose, dict):
            parts = [loose.get(name) for name in cls.ID_FIELDS]
            if all(isinstance(p, str) and p.strip() for p in parts):
                rid = ":".join(p.strip() for p in parts)  # a link's key is student:contact
    except msgspec.DecodeError:
        pass
    message = str(error)
    match = _PATH.search(message)
    detail = _PATH.sub("", message)
    if match and match.group(1):
        detail = f"field {match.group(1)}: {detail}"
    elif not detail.startswith("field "):
        missing = re.search(r"missing required field `([^`]+)`", detail)
        detail = f"field {missing.group(1)}: missing" if missing else detail
    return rid, f"{resource} record {rid or '(no ID)'}: {detail}"


# Fields that hold a person's data: pseudonymised in cassettes when they are recorded.
PERSONAL_FIELDS = {
    "KnownName": "name",
    "LegalForename": "name",
    "Forename": "name",
    "Surname": "name",
    "Email": "email",
    "Phone": "phone",
    "DateOfBirth": "date",
}
