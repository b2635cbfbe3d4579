"""What the source sends, as msgspec Structs, and how it is read. The sample's files use
canonical field names, so most records decode straight into core's structs; classes and groups
carry the source's own `type`. For a real MIS: declare its records here (msgspec `rename` or
`field(name=...)` for its names) and read its pages with mis_sync.core.http.HttpClient."""

from pathlib import Path

import msgspec

from mis_sync.core import schema
from mis_sync.core.errors import SourceError


class Class(msgspec.Struct, kw_only=True):
    id: str
    code: str | None = None
    description: str | None = None
    type: str | None = None
    teachers: list[schema.ClassTeacher] = []
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
# How a record is keyed: a link by student_id:contact_id (as schema.link_id), the rest by id.
KEYS = {"contact-links": ("student_id", "contact_id")}


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
                rid = record_id(entity, item)
                reason = f"{path.name} record {rid or f'#{n} (no ID)'}: {exc}"  # names the field
                invalid.append((entity, rid, reason))
        progress(entity, len(records[entity]), len(items))
    return records, invalid


def record_id(entity: str, item: msgspec.Raw) -> str | None:
    """A bad record's ID, where it has one: core then keeps its stored copy unchanged."""
    data = msgspec.json.decode(item)
    parts = [data.get(k) if isinstance(data, dict) else None for k in KEYS.get(entity, ("id",))]
    if not all(isinstance(p, str) and p for p in parts):
        return None
    return schema.link_id(*parts) if len(parts) == 2 else parts[0]
