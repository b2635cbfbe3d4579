"""Source records → canonical records. For a real MIS: map its fields, and say which of its
class and group types qualify (a type mapped to no kind is left out by core's rules)."""

from mis_sync.core import schema

CLASS_KINDS = {"class": "class", "registration": "registration", "custom": "custom"}
GROUP_KINDS = {"student": "student", "house": "house", "year": "year"}


def to_dataset(raw) -> schema.Dataset:
    records, invalid = raw
    ds = schema.Dataset()
    for entity in ("students", "contacts", "contact-links", "teachers"):
        ds.add(entity, records[entity])  # already canonical (see source.py)
    ds.add("classes", (klass(c) for c in records["classes"]))
    ds.add("groups", (group(g) for g in records["groups"]))
    for entity, rid, reason in invalid:
        ds.reject(entity, rid, reason)
    return ds


def klass(c) -> schema.Class:
    return schema.Class(
        id=c.id,
        code=c.code,
        description=c.description,
        kind=CLASS_KINDS.get(c.type or ""),
        source_type=c.type,
        teachers=c.teachers,  # in priority order; core makes the first kept one main
        student_ids=c.student_ids,
    )


def group(g) -> schema.Group:
    return schema.Group(
        id=g.id,
        description=g.description,
        kind=GROUP_KINDS.get(g.type or ""),
        source_type=g.type,
        student_ids=g.student_ids,
    )
