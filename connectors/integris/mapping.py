"""Datashare records → canonical records: the rules of sync-rules.md marked (Integris).

Eligibility is not judged here: this module only says which Integris types qualify (by giving
them a kind) and how fields map; core decides what is kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from mis_sync.core.schema import (
    Class,
    ClassTeacher,
    Contact,
    ContactLink,
    Dataset,
    Group,
    Student,
    Teacher,
)

from . import wire
from .client import Fetched

CLASS_KINDS = {"Teaching set": "class", "Registration": "registration", "Mixed group": "custom"}
GROUP_KINDS = {"Student group": "student", "House group": "house", "Year group": "year"}
_TWO_PEOPLE = re.compile(r"\s+(?:and|&)\s+", re.IGNORECASE)


def text(value: str | None) -> str | None:
    """Trimmed; blank (null, missing or "") is not set."""
    return (value.strip() or None) if value else None


def email(value: str | None) -> str | None:
    value = text(value)
    return value.lower() if value else None


def to_dataset(fetched: Fetched) -> Dataset:
    ds = Dataset()
    for resource, rid, reason in fetched.invalid:
        ds.reject(wire.RESOURCES[resource][1], rid, reason)
    rec = fetched.records
    ds.add("students", (student(s) for s in rec.get("students", [])))
    # a combined contact becomes two people: its links go to both, with its relationship
    split: dict[str, list[str]] = {}
    relationship: dict[str, str | None] = {}
    sent = {c.contact_id.strip() for c in rec.get("contacts", [])}
    for c in rec.get("contacts", []):
        cid, people = c.contact_id.strip(), contacts(c)
        relationship[cid] = text(c.relationship)
        # a made-up ID never takes a real one: the MIS's own contact keeps it
        taken = [p.id for p in people if p.split_from is not None and p.id in sent]
        if taken:
            ds.leave_out("contacts", cid, f"split ID {taken[0]} is taken by contact {taken[0]}")
            continue
        ds.add("contacts", people)
        split[cid] = [p.id for p in people]
    ds.add("contact-links", contact_links(rec.get("contact-links", []), split, relationship))
    ds.add("teachers", (teacher(s) for s in rec.get("staff", [])))
    ds.add("classes", (klass(c) for c in rec.get("classes", [])))
    ds.add("groups", (group(g) for g in rec.get("groups", [])))
    return ds


def student(s: wire.Student) -> Student:
    return Student(
        id=s.student_id.strip(),
        known_name=text(s.known_name) or text(s.legal_forename),
        surname=text(s.surname),
        year_group=text(s.year_group),
        registration_class=text(s.registration_group),
        date_of_birth=text(s.date_of_birth),
    )


def contacts(c: wire.Contact) -> list[Contact]:
    """One contact, or two when the title names two people ("Mr and Mrs", "Dr & Mr")."""
    cid = c.contact_id.strip()
    title, mail, phone = text(c.title), email(c.email), text(c.phone)
    relationship = text(c.relationship)
    titles = _TWO_PEOPLE.split(title) if title else []
    if len(titles) != 2 or not all(titles):
        return [
            Contact(
                id=cid,
                title=title,
                forename=text(c.forename),
                surname=text(c.surname),
                email=mail,
                phone=phone,
                priority=1,
                relationship=relationship,
            )
        ]
    forenames, surnames = _pair(c.forename), _pair(c.surname)
    return [
        Contact(
            id=f"{cid}-{n + 1}",
            title=titles[n],
            forename=forenames[n],
            surname=surnames[n],
            email=mail,
            phone=phone,
            priority=1,
            relationship=relationship,
            split_from=cid,
        )
        for n in range(2)
    ]


def contact_links(
    links: list[wire.ContactLink], split: dict[str, list[str]], relationship: dict
) -> Iterator[ContactLink]:
    """A link's relationship falls back to its contact's; a split contact's link goes to both."""
    for link in links:
        original = link.contact_id.strip()
        for cid in split.get(original, (original,)):
            yield ContactLink(
                student_id=link.student_id.strip(),
                contact_id=cid,
                relationship=text(link.relationship) or relationship.get(original),
                parental_responsibility=link.parental_responsibility is True,
                priority=1,
            )


def _pair(value: str | None) -> tuple[str | None, str | None]:
    value = text(value)
    parts = _TWO_PEOPLE.split(value) if value else []
    if len(parts) == 2 and all(parts):
        return parts[0], parts[1]
    return value, value


def teacher(s: wire.Staff) -> Teacher:
    return Teacher(
        id=s.staff_id.strip(),
        title=text(s.title),
        forename=text(s.forename),
        surname=text(s.surname),
        email=email(s.email),
    )


def klass(c: wire.Class) -> Class:
    kind = CLASS_KINDS.get(text(c.type) or "")
    if kind == "registration":
        ids = [text(c.staff_id1), text(c.staff_id2)]
        teachers = [
            ClassTeacher(teacher_id=tid, role="main" if n == 0 else "supervisor")
            for n, tid in enumerate(t for t in ids if t)
        ]
    else:
        teachers = [ClassTeacher(teacher_id=tid, role="teacher") for tid in _ids(c.staff_ids)]
    return Class(
        id=c.class_id.strip(),
        code=text(c.class_code),
        description=text(c.description),
        kind=kind,
        teachers=teachers,
        student_ids=_ids(c.student_ids),
        source_type=text(c.type),
    )


def group(g: wire.Group) -> Group:
    return Group(
        id=g.group_id.strip(),
        description=text(g.description),
        kind=GROUP_KINDS.get(text(g.type) or ""),
        student_ids=_ids(g.student_ids),
        source_type=text(g.type),
    )


def _ids(values: list[str] | None) -> list[str]:
    return [v for v in map(str.strip, values) if v] if values else []
