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
    link_id,
)

from .rows import Exchange, User
from .state import AGENT_ROLES, State

CLASS_KINDS = {"homeroom": "registration", "scheduled": "class"}
YEAR_GROUP_PREFIX = "grade-"
ENTITY_OF_ROLE = {"student": "students", "teacher": "teachers"}


def email(value: str | None) -> str | None:
    return value.lower() if value else None


def roles_of(state: State) -> dict[str, list[tuple[str, str | None]]]:
    """Each user's (role, org) pairs: 1.2's roles.csv where it names the user, else the
    user's own 1.1 `role` in each of its `orgSourcedIds`."""
    roles: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
    for r in state.roles.values():
        roles[r.user].append((r.role, r.org))
    for sid, u in state.users.items():
        if sid not in roles and u.role:
            roles[sid] = [(u.role, o) for o in u.orgs] or [(u.role, None)]
    return roles


def to_dataset(state: State, exchange: Exchange, *, default_title: str | None) -> Dataset:
    org = state.org
    users = state.users
    roles = roles_of(state)
    in_org = {sid: {r for r, o in pairs if o == org} for sid, pairs in roles.items()}
    students = {sid: u for sid, u in users.items() if "student" in in_org.get(sid, ())}
    teachers = {sid: u for sid, u in users.items() if "teacher" in in_org.get(sid, ())}
    agents = {
        sid: next(r for r, _ in roles[sid] if r in AGENT_ROLES)
        for sid in users
        if any(r in AGENT_ROLES for r, _ in roles.get(sid, ()))
    }
    classes = {cid: c for cid, c in state.classes.items() if c.school == org}

    members: dict[str, list[str]] = defaultdict(list)
    primary: dict[str, list[str]] = defaultdict(list)
    others: dict[str, list[str]] = defaultdict(list)
    homerooms: dict[str, list[str]] = defaultdict(list)
    enrolled: dict[str, set[str]] = defaultdict(set)  # role -> users our classes enrol so
    for e in state.enrollments.values():
        klass = classes.get(e.klass)
        if klass is None:
            continue
        enrolled[e.role].add(e.user)
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
            for sid, u in teachers.items()
        ),
    )
    ds.add("classes", (_class(cid, c, members, primary, others) for cid, c in classes.items()))
    ds.add("groups", _year_groups(students))
    _contacts(ds, users, roles, agents, students, in_org, default_title)
    _sent_but_not_ours(ds, state, exchange, roles, enrolled)
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
        surname=u.preferred_family or u.family,
        year_group=u.grades[0] if u.grades else None,
        registration_class=(room.code or room.title) if room else None,
        date_of_birth=demographic.birth_date if demographic else None,
    )


def _class(cid, c, members, primary, others) -> Class:
    """A homeroom has a main teacher whenever it has a kept one: its teachers are ranked,
    primary ones first, and core makes the first kept one main and the others supervisors.
    A scheduled class's main teacher is its primary one (the lowest ID if several are), and
    every other teacher of it is `teacher`: co-teachers supervise no one."""
    firsts = sorted(dict.fromkeys(primary.get(cid, [])))
    rest = sorted(t for t in dict.fromkeys(others.get(cid, [])) if t not in firsts)
    if c.type == "homeroom":
        teachers = [ClassTeacher(teacher_id=t, role="main") for t in firsts]
        teachers += [ClassTeacher(teacher_id=t, role="supervisor") for t in rest]
    else:
        teachers = [
            ClassTeacher(teacher_id=t, role="main" if n == 0 else "teacher")
            for n, t in enumerate(firsts)
        ]
        teachers += [ClassTeacher(teacher_id=t, role="teacher") for t in rest]
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


def _contacts(ds: Dataset, users, roles, agents, students, in_org, default_title) -> None:
    """A link is a student's agentSourcedIds naming a contact, or a contact's naming a student
    of the org: both directions, each pair once. A student's own list comes first, in its
    order (priority 1, 2, ...); links named only from the contact's side follow, by contact ID.
    A contact is anyone with a parent, guardian or relative role whom a student of the org is
    linked to, or whose own role is in the org, whatever org its row names."""
    links: dict[str, list[str]] = {sid: [] for sid in students}
    for sid, u in students.items():
        for agent in dict.fromkeys(u.agents):
            if agent in users and agent not in agents:
                # a student's agent may be another student or staff: not a contact
                role = ", ".join(sorted({r for r, _ in roles.get(agent, [])})) or "user"
                ds.leave_out(
                    "contact-links",
                    link_id(sid, agent),
                    "agent is not a contact",
                    f"user {agent} is sent as a {role}, not a parent, guardian or relative",
                )
                continue
            links[sid].append(agent)
    for cid in sorted(agents):
        for sid in dict.fromkeys(users[cid].agents):
            if sid in links and cid not in links[sid]:
                links[sid].append(cid)
    rank: dict[str, int] = {}
    for sid, named in links.items():
        for priority, agent in enumerate(named, start=1):
            person = agents.get(agent)
            ds.add(
                "contact-links",
                [
                    ContactLink(
                        student_id=sid,
                        contact_id=agent,
                        relationship=person.capitalize() if person else None,
                        parental_responsibility=False,  # OneRoster does not say
                        priority=priority,
                    )
                ],
            )
            rank[agent] = min(rank.get(agent, priority), priority)
    # Contacts of the org that no student names are sent too: core explains they have no link.
    mine = [c for c in agents if in_org.get(c, set()) & set(AGENT_ROLES)]
    wanted = dict.fromkeys([*rank, *mine])
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
            if cid in agents
        ),
    )


def _sent_but_not_ours(ds: Dataset, state: State, exchange: Exchange, roles, enrolled) -> None:
    """Records our classes name that were sent, but not as what they are named for: each gets
    its own reason, so `explain` never says "not sent" of a record that was."""
    org = state.org
    sent_users = exchange.tables["users"].rows
    gone_users = exchange.tables["users"].deleted
    for role, entity in ENTITY_OF_ROLE.items():
        for uid in sorted(enrolled.get(role, ())):
            if uid in ds.records[entity]:
                continue
            if uid in gone_users:
                ds.leave_out(entity, uid, "marked tobedeleted", f"user {uid} is marked tobedeleted")
            elif uid in roles and any(o == org for _, o in roles[uid]):
                held = ", ".join(sorted({r for r, o in roles[uid] if o == org}))
                ds.leave_out(
                    entity, uid, "sent with another role", f"user {uid} is sent as a {held}"
                )
            elif uid in state.users and uid not in sent_users:
                reason = f"user {uid} holds no {role} role in org {org}"
                ds.leave_out(entity, uid, "sent for another org", reason)
            elif uid in sent_users:
                orgs = sorted(_orgs_sent(exchange, uid))
                ds.leave_out(
                    entity,
                    uid,
                    "sent for another org",
                    f"{role} {uid} is sent for org {', '.join(orgs) or '(none)'}, not this org",
                )
    for uid, dead in gone_users.items():
        entity = ENTITY_OF_ROLE.get(dead.role or "") or (
            "contacts" if dead.role in AGENT_ROLES else None
        )
        if entity and org in dead.orgs and uid not in ds.records[entity]:
            ds.leave_out(entity, uid, "marked tobedeleted", f"user {uid} is marked tobedeleted")
    classes = exchange.tables["classes"].deleted
    named = {e.klass for e in state.enrollments.values() if e.school == org}
    for cid, dead in classes.items():
        if (org in dead.orgs or cid in named) and cid not in ds.records["classes"]:
            ds.leave_out("classes", cid, "marked tobedeleted", f"class {cid} is marked tobedeleted")


def _orgs_sent(exchange: Exchange, uid: str) -> set[str]:
    """The orgs the exchange places a user in: its 1.2 roles, else its 1.1 row."""
    orgs = {r.org for r in exchange.tables["roles"].rows.values() if r.user == uid}
    return orgs or set(exchange.tables["users"].rows[uid].orgs)
