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

from mis_sync.core.schema import link_id

MAX_TEXT = 1000  # no real name, email or description is longer; a 1 MB string is an error
Text = Annotated[str, msgspec.Meta(max_length=MAX_TEXT)] | None
# An ID is a string; one sent as a JSON integer (4821) is taken as its decimal text ("4821"),
# so the record keeps its identity (and its stored copy) instead of failing as "(no ID)".
Id = str | int
RefId = Annotated[str, msgspec.Meta(max_length=MAX_TEXT)] | int | None
Ids = list[Annotated[str, msgspec.Meta(max_length=MAX_TEXT)] | int] | None
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class Record(msgspec.Struct, rename="pascal", kw_only=True):
    """Base: a record's ID fields must be non-blank; ID_FIELDS names them, REFS the fields
    that name other records. Integer IDs become their decimal text here."""

    ID_FIELDS: tuple[str, ...] = ()
    REFS: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in self.ID_FIELDS:
            attr = _attr(name)
            value = getattr(self, attr)
            if type(value) is int:
                value = str(value)
                setattr(self, attr, value)
            if not value.strip():
                raise ValueError(f"field {name}: blank ID")
        for attr in self.REFS:
            value = getattr(self, attr)
            if type(value) is int:
                setattr(self, attr, str(value))
            elif type(value) is list and any(type(v) is int for v in value):
                setattr(self, attr, [str(v) if type(v) is int else v for v in value])


class Student(Record):
    ID_FIELDS = ("StudentID",)
    student_id: Id = field(name="StudentID")
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
    contact_id: Id = field(name="ContactID")
    title: Text = None
    forename: Text = None
    surname: Text = None
    email: Text = None
    phone: Text = None
    relationship: Text = None


class ContactLink(Record):
    ID_FIELDS = ("StudentID", "ContactID")
    student_id: Id = field(name="StudentID")
    contact_id: Id = field(name="ContactID")
    relationship: Text = None
    parental_responsibility: bool | None = None


class Staff(Record):
    ID_FIELDS = ("StaffID",)
    staff_id: Id = field(name="StaffID")
    title: Text = None
    forename: Text = None
    surname: Text = None
    email: Text = None


class Class(Record):
    ID_FIELDS = ("ClassID",)
    REFS = ("staff_id1", "staff_id2", "staff_ids", "student_ids")
    class_id: Id = field(name="ClassID")
    class_code: Text = None
    description: Text = None
    type: Text = None
    staff_id1: RefId = field(name="StaffID1", default=None)
    staff_id2: RefId = field(name="StaffID2", default=None)
    staff_ids: Ids = field(name="StaffIDs", default=None)
    student_ids: Ids = field(name="StudentIDs", default=None)


class Group(Record):
    ID_FIELDS = ("GroupID",)
    REFS = ("student_ids",)
    group_id: Id = field(name="GroupID")
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


def _id_text(value) -> str | None:
    """An ID as the record sent it, trimmed; an integer as its decimal text."""
    if type(value) is int:
        return str(value)
    return value.strip() or None if isinstance(value, str) else None


def describe_invalid(
    resource: str, raw: bytes, error: msgspec.ValidationError
) -> tuple[str | None, str]:
    """The record's ID if one can be read, and a reason naming resource, ID and field."""
    cls = RESOURCES[resource][0]
    rid = None
    try:
        loose = _LOOSE.decode(raw)
        if isinstance(loose, dict):
            parts = [_id_text(loose.get(name)) for name in cls.ID_FIELDS]
            if all(parts):
                rid = link_id(*parts) if len(parts) == 2 else parts[0]
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
