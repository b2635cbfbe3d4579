"""The canonical model every connector maps into (sync-rules.md, "Canonical model").

Records are msgspec Structs so that connectors can build millions of them cheaply and the
store can encode them to JSON without a dict in between. Field order is the export order.
"""

from __future__ import annotations

import re
from typing import Literal

import msgspec

# What both databases can store as a key (records.id is VARCHAR(255); PostgreSQL refuses NUL
# in any text column, SQLite would store it). Checked by `reject_unstorable` after mapping,
# so SQLite and PostgreSQL keep and leave out the same records.
MAX_KEY = 255
# C0 controls (NUL, tab, newline...), DEL and C1: never part of a real ID, and an ID holding
# one would garble the one-line messages, tables and CSV that name it
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class Student(msgspec.Struct, kw_only=True):
    id: str
    known_name: str | None = None
    surname: str | None = None
    year_group: str | None = None
    registration_class: str | None = None
    date_of_birth: str | None = None


class Contact(msgspec.Struct, kw_only=True):
    id: str
    title: str | None = None
    forename: str | None = None
    surname: str | None = None
    email: str | None = None
    phone: str | None = None
    priority: int = 1
    relationship: str | None = None  # as the MIS gives it on the contact itself, if it does
    split_from: str | None = None


class ContactLink(msgspec.Struct, kw_only=True):
    student_id: str
    contact_id: str
    relationship: str | None = None
    parental_responsibility: bool = False
    priority: int = 1

    @property
    def id(self) -> str:
        """Links have no source ID of their own; the pair is the key (see link_id)."""
        return link_id(self.student_id, self.contact_id)


class Teacher(msgspec.Struct, kw_only=True):
    id: str
    title: str | None = None
    forename: str | None = None
    surname: str | None = None
    email: str | None = None
    room: str | None = None


Role = Literal["main", "supervisor", "teacher"]


class ClassTeacher(msgspec.Struct, kw_only=True):
    teacher_id: str
    role: Role


class Class(msgspec.Struct, kw_only=True):
    """A class as the MIS sends it.

    `kind` is None when the MIS type does not qualify; the connector says which of its types
    qualify by mapping them to a kind, and core leaves the rest out naming `source_type`.
    `teachers` is in the MIS's priority order: core re-ranks main/supervisor roles after
    eligibility so that the first *kept* teacher is main.
    """

    id: str
    code: str | None = None
    description: str | None = None
    kind: Literal["class", "registration", "custom"] | None = None
    teachers: list[ClassTeacher] = []
    student_ids: list[str] = []
    source_type: str | None = None


class Group(msgspec.Struct, kw_only=True):
    id: str
    description: str | None = None
    kind: Literal["student", "house", "year"] | None = None
    student_ids: list[str] = []
    source_type: str | None = None


# The public entity names (CLI, export, store) in dependency-free order.
ENTITIES: dict[str, type[msgspec.Struct]] = {
    "students": Student,
    "contacts": Contact,
    "contact-links": ContactLink,
    "teachers": Teacher,
    "classes": Class,
    "groups": Group,
}

# Fields that a run never exports or stores because they only serve the rules.
INTERNAL_FIELDS = frozenset({"source_type"})


def link_id(student_id: str, contact_id: str) -> str:
    """The stored key of a contact link: `student_id:contact_id`, unambiguous.

    Inside each ID a `%` is written `%25` and a `:` is written `%3A`, so the one `:` left
    separates the pair: student `a:b` with contact `c` is `a%3Ab:c`, student `a` with contact
    `b:c` is `a:b%3Ac`. IDs without `%` or `:` (nearly all) read as they are.
    """
    return f"{link_part(student_id)}:{link_part(contact_id)}"


def link_pair(key: str) -> tuple[str, str] | None:
    """The (student_id, contact_id) of a link key made by `link_id`; None if it is not one."""
    parts = key.split(":")
    if len(parts) != 2:
        return None
    return (_unescape(parts[0]), _unescape(parts[1]))


def link_part(rid: str) -> str:
    """One ID as it reads inside a link key: what to look for when finding a person's links
    by their key (store.queries.person_keys), never the raw ID."""
    return rid.replace("%", "%25").replace(":", "%3A")


def _unescape(part: str) -> str:
    return part.replace("%3A", ":").replace("%25", "%")


def key_problem(rid: str) -> str | None:
    """Why `rid` cannot be stored as a key, or None if it can."""
    if len(rid) > MAX_KEY:
        return f"longer than {MAX_KEY} characters ({len(rid)})"
    if found := _CONTROL.search(rid):
        return f"holds a control character (U+{ord(found.group()):04X})"
    return None


def storable_text(text: str) -> str:
    """A message or reason as both databases store it and one line shows it: control
    characters (a NUL from a hostile source, a newline) written as `\\xNN`."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def shown_id(rid: str) -> str:
    """An ID that cannot be stored, as a message may show it: escaped and cut short."""
    cut = rid if len(rid) <= 40 else rid[:40] + "..."
    return storable_text(cut)


def reject_unstorable(ds: Dataset) -> None:
    """Leave out, as failed validation, every record whose key cannot be stored.

    A link is keyed by its pair: either ID holding a control character, or the pair's key
    longer than MAX_KEY, leaves the link out. The record has no usable ID, so it is named by
    its escaped ID and counted as no longer sent (as a record sent without an ID).
    """
    for entity, records in ds.records.items():
        # the usual case, every key fine, is found at C speed: one scan of all the keys
        if max(map(len, records), default=0) <= MAX_KEY and not _CONTROL.search("".join(records)):
            continue
        bad = []
        for rid, record in records.items():
            if entity == "contact-links":
                fields = [("student_id", record.student_id), ("contact_id", record.contact_id)]
                fields.append(("key", rid))
            else:
                fields = [("id", rid)]
            for name, value in fields:
                if problem := key_problem(value):
                    bad.append((rid, name, value, problem))
                    break
        for rid, name, value, problem in bad:
            del records[rid]
            ds.reject(
                entity,
                None,
                f"{entity} record (no usable ID: '{shown_id(value)}'): field {name}: {problem}",
            )


def export_fields(entity: str) -> tuple[str, ...]:
    """The keys of an exported record, in order (sync-rules.md, export)."""
    return tuple(f for f in ENTITIES[entity].__struct_fields__ if f not in INTERNAL_FIELDS)


class Invalid(msgspec.Struct, kw_only=True):
    """A source record that failed validation: left out, and its stored copy kept unchanged."""

    entity: str
    id: str | None
    reason: str


class LeftOut(msgspec.Struct, kw_only=True):
    """Why one record is not kept: the rule first, then what caused it."""

    entity: str
    id: str
    reasons: list[str]


class Dataset(msgspec.Struct, kw_only=True):
    """Everything one run knows about one school, passed stage to stage.

    Records start as the connector mapped them; the rules move records into `left_out`,
    so after the rules `records` holds exactly what is kept.
    """

    records: dict[str, dict[str, msgspec.Struct]] = msgspec.field(
        default_factory=lambda: {e: {} for e in ENTITIES}
    )
    invalid: list[Invalid] = []
    left_out: dict[str, dict[str, LeftOut]] = msgspec.field(
        default_factory=lambda: {e: {} for e in ENTITIES}
    )
    near_duplicates: list[tuple[str, str, str]] = []
    # the two records of each near-duplicate pair as mapped, with their links, for the
    # register (store/duplicates.py): by eligibility time a left-out one is gone from records
    near_duplicate_records: dict[str, dict] = {}
    repeated_ids: list[tuple[str, str]] = []  # (entity, id) sent more than once; last one wins
    # What the connector wants back as `source_state` on the school's next run: a source that
    # sends only changes (a OneRoster delta) keeps its full picture here, stored atomically
    # with this run's records, because the canonical records hold only what was kept.
    source_state: bytes | None = None

    @classmethod
    def of(cls, **entities: list) -> Dataset:
        """Build from lists keyed by entity with `_` for `-` (contact_links=...)."""
        ds = cls()
        for name, items in entities.items():
            ds.add(name.replace("_", "-"), items)
        return ds

    def add(self, entity: str, items) -> None:
        bucket = self.records[entity]
        for item in items:
            rid = item.id  # a link's ID is built from its pair: build it once
            if rid in bucket:
                self.repeated_ids.append((entity, rid))
            bucket[rid] = item

    def reject(self, entity: str, rid: str | None, reason: str) -> None:
        """Record a source record that failed validation; its stored copy stays as it was.

        An ID that cannot be a stored key (see key_problem) cannot have a stored copy: the
        record is kept as one without an ID.
        """
        if rid is not None and key_problem(rid):
            rid = None
        reason = storable_text(reason)
        self.invalid.append(Invalid(entity=entity, id=rid, reason=reason))
        if rid:
            self.records[entity].pop(rid, None)
            self.left_out[entity][rid] = LeftOut(
                entity=entity, id=rid, reasons=["failed validation", reason]
            )

    def leave_out(self, entity: str, rid: str, *reasons: str) -> None:
        """Move a record from kept to left out (a plugin filter calls this too).

        A record that failed validation keeps that as its reason: its stored copy stood in
        for it (pipeline.keep_last_good), so what the rules say of the copy comes after.
        """
        self.records[entity].pop(rid, None)
        earlier = self.left_out[entity].get(rid)
        if earlier is not None and any(i.id == rid and i.entity == entity for i in self.invalid):
            reasons = (*earlier.reasons, f"stored copy left out too: {reasons[0]}")
        self.left_out[entity][rid] = LeftOut(entity=entity, id=rid, reasons=list(reasons))
