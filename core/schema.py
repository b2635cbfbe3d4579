"""The canonical model every connector maps into (sync-rules.md, "Canonical model").

Records are msgspec Structs so that connectors can build millions of them cheaply and the
store can encode them to JSON without a dict in between. Field order is the export order.
"""

from __future__ import annotations

from typing import Literal

import msgspec


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
    """The stored key of a contact link: `student_id:contact_id`."""
    return f"{student_id}:{contact_id}"


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
        """Record a source record that failed validation; its stored copy stays as it was."""
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
