"""Core rules of sync-rules.md: duplicate contacts, then eligibility to a fixed point.

Registered as a default plugin with `trylast`, so a school's own merge or filter runs first
and its effects are followed through. Every record left out gets a reason list: the rule it
failed first, then the records that caused it.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import chain, combinations

from msgspec import to_builtins
from msgspec.structs import replace

from .hookspecs import hookimpl
from .schema import ClassTeacher, ContactLink, Dataset, link_id

MAX_CAUSES = 3  # a class of thirty left-out pupils names three, then counts the rest
# The first reason of a contact (or link) merged into another: counted as merged, not left out
MERGED = "duplicate contact"


@hookimpl(trylast=True)
def mis_sync_merge(dataset: Dataset) -> None:
    merge_duplicate_contacts(dataset)


@hookimpl(trylast=True)
def mis_sync_filter(school, dataset: Dataset) -> None:
    apply_eligibility(dataset, parental_responsibility_only=school.parental_responsibility_only)


def _norm(value: str | None) -> str:
    return (value or "").strip().casefold()


def _blank(value: str | None) -> bool:
    return not value or value.isspace()


def _blank_names(person) -> list[str]:
    """A teacher or contact needs a title, forename and surname: one reason per blank one."""
    return [f"{f} is blank" for f in ("title", "forename", "surname") if _blank(getattr(person, f))]


# -- duplicates -----------------------------------------------------------------------------


def merge_duplicate_contacts(ds: Dataset) -> None:
    """One person entered twice is stored once, under the ID that sorts first as a string."""
    contacts = ds.records["contacts"]
    identity = {
        c.id: (_norm(c.title), _norm(c.forename), _norm(c.surname), _norm(c.email))
        for c in contacts.values()
    }
    by_identity: dict[tuple, list[str]] = defaultdict(list)
    for cid, key in identity.items():
        by_identity[key].append(cid)
    survivor: dict[str, str] = {}
    for ids in by_identity.values():
        if len(ids) > 1:
            ids.sort()
            for other in ids[1:]:
                survivor[other] = ids[0]
                why = "same title, names and email"
                if _halves(contacts[other], contacts[ids[0]]):
                    why = f"{why}: both halves of combined contact {contacts[other].split_from}"
                ds.leave_out("contacts", other, MERGED, f"merged into contact {ids[0]} ({why})")
    if survivor:
        _repoint_links(ds, survivor)
    ds.near_duplicates = _near_duplicates(contacts, identity)
    ds.near_duplicate_records = _pair_records(ds, ds.near_duplicates)


def _repoint_links(ds: Dataset, survivor: dict[str, str]) -> None:
    links = ds.records["contact-links"]
    for old in [lk for lk in links.values() if lk.contact_id in survivor]:
        keep = survivor[old.contact_id]
        ds.leave_out(
            "contact-links", old.id, MERGED, f"merged into link {link_id(old.student_id, keep)}"
        )
        new_id = link_id(old.student_id, keep)
        existing: ContactLink | None = links.get(new_id)
        if existing is None:
            links[new_id] = replace(old, contact_id=keep)
        else:
            links[new_id] = replace(
                existing,
                relationship=existing.relationship or old.relationship,
                parental_responsibility=existing.parental_responsibility
                or old.parental_responsibility,
                priority=min(existing.priority, old.priority),
            )


def _near_duplicates(contacts: dict, identity: dict) -> list[tuple[str, str, str]]:
    """Pairs that look like one person but differ in name or email: reported, never merged."""
    by_email: dict[str, list[str]] = defaultdict(list)
    by_names: dict[tuple, list[str]] = defaultdict(list)
    for cid, (title, forename, surname, email) in identity.items():
        if cid in contacts:  # not merged away
            if email:
                by_email[email].append(cid)
            if forename and surname:
                by_names[(title, forename, surname)].append(cid)
    pairs = set()
    for group in (g for g in by_email.values() if len(g) > 1):
        for a, b in combinations(sorted(group), 2):
            if not _halves(contacts[a], contacts[b]):
                pairs.add((a, b, "same email"))
    for group in (g for g in by_names.values() if len(g) > 1):
        for a, b in combinations(sorted(group), 2):
            if identity[a][3] != identity[b][3]:
                pairs.add((a, b, "same names"))
    return sorted(pairs)


def _pair_records(ds: Dataset, pairs: list[tuple[str, str, str]]) -> dict[str, dict]:
    """Both records of each near-duplicate pair with their pupils, for the register."""
    ids = {cid for a, b, _ in pairs for cid in (a, b)}
    pupils: dict[str, list] = defaultdict(list)
    for lk in ds.records["contact-links"].values() if ids else ():
        if lk.contact_id in ids:
            pupils[lk.contact_id].append(to_builtins(lk))
    contacts = ds.records["contacts"]
    for links in pupils.values():
        links.sort(key=lambda p: p["student_id"])
    return {cid: {**to_builtins(contacts[cid]), "pupils": pupils[cid]} for cid in sorted(ids)}


def _halves(a, b) -> bool:
    """The two people of one combined contact share its email by design: not a near match."""
    return a.split_from is not None and a.split_from == b.split_from


# -- eligibility ----------------------------------------------------------------------------


def apply_eligibility(ds: Dataset, *, parental_responsibility_only: bool = False) -> None:
    """Keep only what all the rules allow, removing until nothing changes.

    Removal is monotone (a record that fails against larger kept sets fails against smaller
    ones too), so reasons can be read off the final state and always name a real cause.
    """
    rec = ds.records
    students, teachers, classes = rec["students"], rec["teachers"], rec["classes"]
    teacher_out = {t.id: r for t in teachers.values() if (r := _blank_names(t))}
    class_out = {
        c.id: [f'type "{c.source_type}" does not qualify']
        for c in classes.values()
        if c.kind is None
    }

    kept_students = set(students)
    kept_teachers = set(teachers) - teacher_out.keys()
    kept_classes = set(classes) - class_out.keys()
    while True:
        # A class's reason is read when it goes, against the sets that made it go, so it
        # names the first cause rather than the consequences that followed.
        for cid in sorted(kept_classes):
            c = classes[cid]
            if kept_students.isdisjoint(c.student_ids):
                class_out[cid] = _because(
                    "has no students" if not c.student_ids else "no kept student",
                    [_student_cause(ds, students, s) for s in dict.fromkeys(c.student_ids)],
                )
            elif not any(t.teacher_id in kept_teachers for t in c.teachers):
                class_out[cid] = _because(
                    "has no teachers" if not c.teachers else "no kept teacher",
                    [_teacher_cause(teachers, teacher_out, t.teacher_id) for t in c.teachers],
                )
        kept_classes -= class_out.keys()
        next_students = kept_students.intersection(
            chain.from_iterable(classes[cid].student_ids for cid in kept_classes)
        )
        next_teachers = {
            t.teacher_id for cid in kept_classes for t in classes[cid].teachers
        } & kept_teachers
        if (next_students, next_teachers) == (kept_students, kept_teachers):
            break
        kept_students, kept_teachers = next_students, next_teachers

    # which classes list each left-out pupil or teacher, for their reasons (few, usually)
    gone_students = students.keys() - kept_students
    gone_teachers = teachers.keys() - kept_teachers - teacher_out.keys()
    classes_of, teaches = defaultdict(list), defaultdict(list)
    for c in classes.values() if gone_students or gone_teachers else ():
        for s in gone_students.intersection(c.student_ids):
            classes_of[s].append(c.id)
        for t in c.teachers:
            if t.teacher_id in gone_teachers:
                teaches[t.teacher_id].append(c.id)

    for cid, reasons in class_out.items():
        ds.leave_out("classes", cid, *reasons)

    _leave_out_by_class(ds, "students", gone_students, classes_of, "in", class_out)
    for tid, reasons in teacher_out.items():
        ds.leave_out("teachers", tid, *reasons)
    _leave_out_by_class(ds, "teachers", gone_teachers, teaches, "teaches", class_out)

    for cid in kept_classes:
        c = classes[cid]
        classes[cid] = replace(
            c,
            student_ids=sorted(kept_students.intersection(c.student_ids)),
            teachers=_ranked([t for t in c.teachers if t.teacher_id in kept_teachers]),
        )
    _filter_groups(ds, kept_students)
    _filter_contacts(ds, parental_responsibility_only)


def _leave_out_by_class(ds, entity, gone, listed_in, verb, class_out) -> None:
    """Pupils and teachers go because of their classes: say which, and why each went."""
    for rid in sorted(gone):
        listed = listed_in.get(rid, [])
        ds.leave_out(
            entity,
            rid,
            *_because(
                f"{verb} no kept class" if listed else f"{verb} no class",
                [f"class {cid} left out: {class_out[cid][0]}" for cid in listed],
            ),
        )


def _ranked(teachers: list[ClassTeacher]) -> list[ClassTeacher]:
    """The first kept teacher of the ranked (main/supervisor) ones becomes main.

    Plain `teacher`s keep their role even beside ranked ones: a OneRoster scheduled class has
    one primary teacher (main) and co-teachers, who are not that class's supervisors.
    """
    first: dict[str, ClassTeacher] = {}
    for t in teachers:
        first.setdefault(t.teacher_id, t)  # a teacher listed twice keeps their first place
    unique = list(first.values())
    ranked = [t.teacher_id for t in unique if t.role != "teacher"]
    unique = [
        ClassTeacher(
            teacher_id=t.teacher_id,
            role="main" if t.teacher_id == ranked[0] else "supervisor",
        )
        if t.role != "teacher"
        else t
        for t in unique
    ]
    return sorted(unique, key=lambda t: t.teacher_id)


def _filter_groups(ds: Dataset, kept_students: set[str]) -> None:
    groups = ds.records["groups"]
    for gid, g in list(groups.items()):
        members = sorted(kept_students.intersection(g.student_ids))
        if g.kind is None:
            ds.leave_out("groups", gid, f'type "{g.source_type}" does not qualify')
        elif not members:
            ds.leave_out(
                "groups",
                gid,
                *_because(
                    "has no students" if not g.student_ids else "no kept student",
                    [f"student {s} left out" for s in g.student_ids],
                ),
            )
        else:
            groups[gid] = replace(g, student_ids=members)


def _filter_contacts(ds: Dataset, parental_responsibility_only: bool) -> None:
    students, contacts, links = (
        ds.records["students"],
        ds.records["contacts"],
        ds.records["contact-links"],
    )
    for c in list(contacts.values()):
        if blank := _blank_names(c):
            ds.leave_out("contacts", c.id, *blank)
    sent = list(links.items())
    for lid, lk in sent:
        causes = []
        if lk.student_id not in students:
            causes.append(("student not kept", _cause(ds, "students", "student", lk.student_id)))
        if lk.contact_id not in contacts:
            causes.append(("contact not kept", _cause(ds, "contacts", "contact", lk.contact_id)))
        if parental_responsibility_only and not lk.parental_responsibility:
            causes.append(("no parental responsibility", "parental_responsibility_only is on"))
        if causes:
            ds.leave_out("contact-links", lid, causes[0][0], *(c for _, c in causes))
    linked = {lk.contact_id for lk in links.values()}
    unlinked = [cid for cid in contacts if cid not in linked]
    links_of = {cid: [] for cid in unlinked}  # the links each one was sent, for its reasons
    for _, lk in sent if unlinked else ():
        if lk.contact_id in links_of:
            links_of[lk.contact_id].append(lk)
    for cid in unlinked:
        mine = links_of[cid]
        ds.leave_out(
            "contacts",
            cid,
            *_because(
                "no kept link" if mine else "has no links",
                [f"link to student {lk.student_id} left out" for lk in mine],
            ),
        )


def _student_cause(ds: Dataset, students: dict, sid: str) -> str:
    if sid in students:
        return f"student {sid} left out"
    return _cause(ds, "students", "student", sid)


def _teacher_cause(teachers: dict, teacher_out: dict, tid: str) -> str:
    if tid in teacher_out:
        return f"teacher {tid} left out: {teacher_out[tid][0]}"
    return f"teacher {tid} left out" if tid in teachers else f"teacher {tid} not sent by the source"


def _cause(ds: Dataset, entity: str, noun: str, rid: str) -> str:
    out = ds.left_out[entity].get(rid)
    if out is None:
        return f"{noun} {rid} not sent by the source"
    return f"{noun} {rid} left out: {out.reasons[0]}"


def _because(rule: str, causes: list[str]) -> list[str]:
    if len(causes) > MAX_CAUSES:
        causes = causes[:MAX_CAUSES] + [f"and {len(causes) - MAX_CAUSES} more"]
    return [rule, *causes]
