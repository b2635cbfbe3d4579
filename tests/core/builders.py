"""Small canonical schools for core tests: each test changes one thing of a valid school."""

from __future__ import annotations

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


def teacher(tid: str, **kw) -> Teacher:
    return Teacher(**{"id": tid, "title": "Ms", "forename": "Ada", "surname": f"T{tid}", **kw})


def student(sid: str, **kw) -> Student:
    return Student(
        **{"id": sid, "known_name": "Kit", "surname": f"S{sid}", "year_group": "Year 7", **kw}
    )


def contact(cid: str, **kw) -> Contact:
    return Contact(
        **{
            "id": cid,
            "title": "Mx",
            "forename": "Rae",
            "surname": f"C{cid}",
            "email": f"c{cid}@example.org",
            **kw,
        }
    )


def link(sid: str, cid: str, **kw) -> ContactLink:
    return ContactLink(
        **{
            "student_id": sid,
            "contact_id": cid,
            "relationship": "Parent",
            "parental_responsibility": True,
            **kw,
        }
    )


def klass(cid: str, students: list[str], teachers: list[str], kind="class", **kw) -> Class:
    role = "teacher" if kind != "registration" else None
    return Class(
        id=cid,
        code=cid,
        description=f"Class {cid}",
        kind=kind,
        source_type=kw.pop("source_type", "Teaching set"),
        student_ids=students,
        teachers=[
            ClassTeacher(teacher_id=t, role=role or ("main" if n == 0 else "supervisor"))
            for n, t in enumerate(teachers)
        ],
        **kw,
    )


def school() -> Dataset:
    """Two classes, three pupils, two teachers, two contacts, a house: everything is kept."""
    return Dataset.of(
        students=[student("S1"), student("S2"), student("S3")],
        teachers=[teacher("T1"), teacher("T2")],
        classes=[
            klass(
                "REG7",
                ["S1", "S2", "S3"],
                ["T1", "T2"],
                kind="registration",
                source_type="Registration",
            ),
            klass("MA7", ["S1", "S2"], ["T2"]),
        ],
        contacts=[contact("C1"), contact("C2")],
        contact_links=[link("S1", "C1"), link("S2", "C2")],
        groups=[
            Group(
                id="G1",
                description="Red House",
                kind="house",
                source_type="House group",
                student_ids=["S1", "S3"],
            )
        ],
    )
