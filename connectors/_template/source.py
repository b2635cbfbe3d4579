"""What the source sends, as msgspec Structs, and how it is read.

The sample's files already use canonical field names, so most records decode straight into
core's structs; classes and groups carry the source's own `type`. For a real MIS, declare its
records here (msgspec `rename` or `field(name=...)` for its field names) and read its pages
with mis_sync.core.http.HttpClient instead of files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import msgspec

from mis_sync.core import schema
from mis_sync.core.errors import SourceError


class Member(msgspec.Struct):
    teacher_id: str
    role: Literal["main", "supervisor", "teacher"] = "teacher"


class Class(msgspec.Struct, kw_only=True):
    id: str
    code: str | None = None
    description: str | None = None
    type: str | None = None
    teachers: list[Member] = []
    student_ids: list[str] = []


class Group(msgspec.Struct, kw_only=True):
    id: str
    description: str | None = None
    type: str | None = None
    student_ids: list[str] = []


FILES = {
    "students": schema.Student,
    "contacts": schema.Contact,
    "contact-links": schema.ContactLink,
    "teachers": schema.Teacher,
    "classes": Class,
    "groups": Group,
}


def read_folder(folder: Path, progress) -> tuple[dict[str, list], list[tuple]]:
    """Every record per entity, and (entity, id, reason) for each that failed validation."""
    records, invalid = {}, []
    for entity, cls in FILES.items():
        path = folder / f"{entity}.json"
        try:
            items = msgspec.json.decode(path.read_bytes(), type=list[msgspec.Raw])
        except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise SourceError(f"{path}: cannot read a JSON array: {exc}") from None
        decode, records[entity] = msgspec.json.Decoder(cls).decode, []
        for n, item in enumerate(items, 1):
            try:
                records[entity].append(decode(item))
            except msgspec.ValidationError as exc:
                rid = msgspec.json.decode(item).get("id") if bytes(item).startswith(b"{") else None
                reason = f"{path.name} record {n}: {exc}"
                invalid.append((entity, rid if isinstance(rid, str) else None, reason))
        progress(entity, len(records[entity]), len(items))
    return records, invalid
