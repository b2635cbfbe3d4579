"""The school's OneRoster picture → canonical records (docs/connectors/oneroster.md).

Eligibility is not judged here: this module says which OneRoster class types qualify (by
giving them a kind) and how fields map; core decides what is kept, and explains the rest.
"""

from __future__ import annotations

from collections import defaultdict

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

from .source import Exchange, User
from .state import AGENT_ROLES, State

CLASS_KINDS = {"homeroom": "registration", "scheduled": "class"}
YEAR_GROUP_PREFIX = "grade-"


def email(value: str | None) -> str | None:
    return value.lower() if value else None


def to_dataset(state: State, exchange: Exchange, *, default_title: str | None) -> Dataset:
    org = state.org
    users = state.users
    ours = {sid: u for sid, u in users.items() if org in u.orgs}
    students = {sid: u for sid, u in ours.items() if u.role == "student"}
    classes = {cid: c for cid, c in state.classes.items() if c.school == org}

    members: dict[str, list[str]] = defaultdict(list)
    primary: dict[str, list[str]] = defaultdict(list)
    others: dict[str, list[str]] = defaultdict(list)
    homerooms: dict[str, list[str]] = defaultdict(list)
    for e in state.enrollments.values():
        klass = classes.get(e.klass)
        if klass is None:
            continue
        if e.role == "student":
            members[e.klass].append(e.user)
            if klass.type == "homeroom":
                homerooms[e.user].append(e.klass)
        elif e.role == "teacher":
            (primary if e.primary else others)[e.klass].append(e.user)

    ds = Dataset()
    births = state.demographics
    ds.add(
        "students",
        (_student(sid, u, classes, homerooms, births.get(sid)) for sid, u in students.items()),
    )
    ds.add(
        "teachers",
        (
            Teacher(
                id=sid,
                title=u.title or default_title,
                forename=u.given,
                surname=u.family,
                email=email(u.email),
            )
            for sid, u in ours.items()
            if u.role == "teacher"
        ),
    )
    ds.add("classes", (_class(cid, c, members, primary, others) for cid, c in classes.items()))
    ds.add("groups", _year_groups(students))
    _contacts(ds, users, ours, students, default_title)
    for name, entity in (("users", None), ("classes", "classes")):
        for sid in exchange.tables[name].repeated:
            found = entity or next(
                (e for e in ("students", "teachers", "contacts") if sid in ds.records[e]), None
            )
            if found and sid in ds.records[found]:
                ds.repeated_ids.append((found, sid))
    return ds


def _student(sid: str, u: User, classes, homerooms, demographic) -> Student:
    # Two homerooms is a source error we cannot settle; the lowest ID keeps runs stable.
    rooms = sorted(homerooms.get(sid, []))
    room = classes[rooms[0]] if rooms else None
    return Student(
        id=sid,
        known_name=u.preferred or u.given,
        surname=u.family,
        year_group=u.grades[0] if u.grades else None,
        registration_class=(room.code or room.title) if room else None,
        date_of_birth=demographic.birth_date if demographic else None,
    )


def _class(cid, c, members, primary, others) -> Class:
    """Primary teachers first: core makes the first kept one main. The others supervise a
    homeroom and teach a scheduled class beside the main teacher."""
    other_role = "supervisor" if c.type == "homeroom" else "teacher"
    teachers = [ClassTeacher(teacher_id=t, role="main") for t in primary.get(cid, [])]
    teachers += [ClassTeacher(teacher_id=t, role=other_role) for t in others.get(cid, [])]
    return Class(
        id=cid,
        code=c.code,
        description=c.title,
        kind=CLASS_KINDS.get(c.type),
        teachers=teachers,
        student_ids=list(dict.fromkeys(members.get(cid, []))),
        source_type=c.type,
    )


def _year_groups(students: dict[str, User]) -> list[Group]:
    by_grade: dict[str, list[str]] = defaultdict(list)
    for sid, u in students.items():
        for grade in dict.fromkeys(u.grades):
            by_grade[grade].append(sid)
    return [
        Group(
            id=f"{YEAR_GROUP_PREFIX}{grade}",
            description=f"Grade {grade}",
            kind="year",
            student_ids=sorted(sids),
            source_type="grades",
        )
        for grade, sids in sorted(by_grade.items())
    ]


def _contacts(ds: Dataset, users, ours, students, default_title) -> None:
    """Links follow each student's agentSourcedIds, in order; a contact is anyone a student of
    the org names as parent, guardian or relative, whatever org its own row names."""
    rank: dict[str, int] = {}
    for sid, u in students.items():
        priority = 0
        for agent in dict.fromkeys(u.agents):
            person = users.get(agent)
            if person is not None and person.role not in AGENT_ROLES:
                continue  # a student's agent may be another student or staff: not a contact
            priority += 1
            ds.add(
                "contact-links",
                [
                    ContactLink(
                        student_id=sid,
                        contact_id=agent,
                        relationship=person.role.capitalize() if person else None,
                        parental_responsibility=False,  # OneRoster does not say
                        priority=priority,
                    )
                ],
            )
            rank[agent] = min(rank.get(agent, priority), priority)
    # Contacts of the org that no student names are sent too: core explains they have no link.
    wanted = dict.fromkeys([*rank, *(c for c, u in ours.items() if u.role in AGENT_ROLES)])
    ds.add(
        "contacts",
        (
            Contact(
                id=cid,
                title=users[cid].title or default_title,
                forename=users[cid].given,
                surname=users[cid].family,
                email=email(users[cid].email),
                phone=users[cid].phone,
                priority=rank.get(cid, 1),
            )
            for cid in wanted
            if cid in users
        ),
    )
