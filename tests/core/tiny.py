"""A tiny Datashare school with one of each thing a data manager has to fix, served as the
Integris demo so that tests drive the real CLI, connector and store, and compare outputs in
full. Names are made up; addresses are example.org."""

from __future__ import annotations

import copy


def _student(sid, known, surname, reg="7A"):
    return {
        "StudentID": sid,
        "KnownName": known,
        "LegalForename": known,
        "Surname": surname,
        "DateOfBirth": "2012-03-04",
        "YearGroup": "Year 7",
        "RegistrationGroup": reg,
    }


def _contact(cid, title, forename, surname, email, relationship):
    return {
        "ContactID": cid,
        "Title": title,
        "Forename": forename,
        "Surname": surname,
        "Email": email,
        "Phone": None,
        "Relationship": relationship,
    }


def _link(sid, cid, relationship, pr):
    return {
        "StudentID": sid,
        "ContactID": cid,
        "Relationship": relationship,
        "ParentalResponsibility": pr,
    }


def _staff(sid, title, forename, surname, email):
    return {
        "StaffID": sid,
        "Title": title,
        "Forename": forename,
        "Surname": surname,
        "Email": email,
    }


def _class(cid, code, kind, students, staff=(), staff1=None, staff2=None):
    return {
        "ClassID": cid,
        "ClassCode": code,
        "Description": f"{code} {kind}",
        "Type": kind,
        "StaffID1": staff1,
        "StaffID2": staff2,
        "StaffIDs": list(staff) or None,
        "StudentIDs": students,
    }


TINY = {
    "students": [
        _student("4821", "Amy", "Rowan"),
        _student("4822", "Ben", "Ashby"),
        _student("4823", "Cal", "Moss", reg=None),  # only in a club: left out
    ],
    "contacts": [
        _contact("9001", "Mr and Mrs", "Jon and Jan", "Rowan", "rowans@example.org", "Parents"),
        _contact("9002", "Ms", "Pia", "Ashby", "pia@example.org", "Aunt"),
        _contact("9003", "ms", "PIA", "Ashby ", " Pia@Example.org ", "Aunt"),  # merged into 9002
        _contact("9004", "Ms", "Pam", "Ashby", "pia@example.org", "Mother"),  # near 9002
        _contact("9005", "Mr", "Tom", "  ", "tom@example.org", "Father"),  # blank surname
    ],
    "contact-links": [
        _link("4821", "9001", "Mother", True),
        _link("4822", "9002", None, None),
        _link("4821", "9003", "Aunt", False),
        _link("4822", "9004", "Mother", True),
        _link("4821", "9005", "Father", True),
    ],
    "staff": [
        _staff("T12", "Ms", "Jo", "Kane", "j.kane@example.org; jo@example.org"),
        _staff("T40", "Mr", "Al", "Fenn", "al@example"),
        _staff("T50", "", "Di", "Hart", "di@example.org"),  # blank title
        _staff("T60", "Mr", "Ed", "Lowe", "ed@example.org"),  # teaches only the club
        _staff("T70", "Mrs", "Fay", "Rook", None),
    ],
    "classes": [
        _class("C77", "7A", "Registration", ["4821", "4822"], staff1="T12", staff2="T40"),
        _class("C91", "7Ma1", "Teaching set", ["4821"], staff=["T40", "T50", "T70"]),
        _class("C99", "Chess", "Club", ["4823"], staff=["T60"]),
    ],
    "groups": [
        {"GroupID": "G5", "Description": "Red House", "Type": "House group", "StudentIDs": ["4821"]}
    ],
}


def tiny(**changes) -> dict:
    """A copy of TINY with whole resources replaced (staff=[...])."""
    data = copy.deepcopy(TINY)
    for key, value in changes.items():
        data[key.replace("_", "-")] = value
    return data


def table_rows(text: str) -> list[list[str]]:
    """The cells of every row of the rich tables in `text`."""
    return [
        [cell.strip() for cell in line.strip("│").split("│")]
        for line in text.splitlines()
        if line.startswith("│")
    ]
