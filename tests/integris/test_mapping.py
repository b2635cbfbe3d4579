"""Every rule of sync-rules.md marked (Integris), driven through the real client against the
fake Datashare, and read back from the store as `mis-sync export` prints it."""

from __future__ import annotations

import pytest

from .support import SMALL, fake, small, sync

LOCAL = {"teachers": {"room"}}


def export(store, entity):
    return {
        r["id"] if "id" in r else (r["student_id"], r["contact_id"]): r
        for r in store.export("oak", entity, LOCAL)
    }


def test_small_school_maps_to_the_canonical_model(store):
    result = sync(store, fake())
    assert result["status"] == "ok" and result["left_out"] == 0
    assert export(store, "students")["4821"] == {
        "id": "4821",
        "known_name": "Amy",
        "surname": "Rowan",
        "year_group": "Year 7",
        "registration_class": "7A",
        "date_of_birth": "2012-03-04",
    }


def test_known_name_falls_back_to_legal_forename_and_text_is_trimmed(store):
    sync(store, fake())
    assert export(store, "students")["4822"]["known_name"] == "Benedikt"


def test_class_types_map_to_kinds_and_other_types_do_not_qualify(store):
    classes = SMALL["classes"] + [
        {
            "ClassID": "C95",
            "ClassCode": "7X",
            "Description": "Mixed",
            "Type": "Mixed group",
            "StaffIDs": ["T12"],
            "StudentIDs": ["4822"],
        },
        {
            "ClassID": "C99",
            "ClassCode": "CH",
            "Description": "Chess",
            "Type": "Club",
            "StaffIDs": ["T12"],
            "StudentIDs": ["4821"],
        },
    ]
    sync(store, fake(small(classes=classes)))
    kinds = {cid: c["kind"] for cid, c in export(store, "classes").items()}
    assert kinds == {"C77": "registration", "C91": "class", "C95": "custom"}
    assert store.explain("oak", "classes", "C99")["reasons"] == ['type "Club" does not qualify']


def test_group_types_map_to_kinds(store):
    groups = [
        {
            "GroupID": "G1",
            "Description": "Nurture",
            "Type": "Student group",
            "StudentIDs": ["4821"],
        },
        {"GroupID": "G2", "Description": "Red", "Type": "House group", "StudentIDs": ["4821"]},
        {
            "GroupID": "G3",
            "Description": "Y7",
            "Type": "Year group",
            "StudentIDs": ["4822", "4821"],
        },
        {"GroupID": "G4", "Description": "Chess", "Type": "Club list", "StudentIDs": ["4821"]},
    ]
    sync(store, fake(small(groups=groups)))
    out = export(store, "groups")
    assert {g: out[g]["kind"] for g in out} == {"G1": "student", "G2": "house", "G3": "year"}
    assert out["G3"]["student_ids"] == ["4821", "4822"]


def test_registration_teachers_are_main_then_supervisor(store):
    sync(store, fake())
    assert export(store, "classes")["C77"]["teachers"] == [
        {"teacher_id": "T12", "role": "main"},
        {"teacher_id": "T40", "role": "supervisor"},
    ]


def test_first_kept_registration_teacher_is_main(store):
    staff = [dict(SMALL["staff"][0], Title=""), SMALL["staff"][1]]
    classes = [SMALL["classes"][0], dict(SMALL["classes"][1], StaffIDs=["T40"])]
    sync(store, fake(small(staff=staff, classes=classes)))
    assert export(store, "classes")["C77"]["teachers"] == [{"teacher_id": "T40", "role": "main"}]


def test_teaching_set_teachers_come_from_staffids_all_at_one_level(store):
    sync(store, fake())
    assert export(store, "classes")["C91"]["teachers"] == [
        {"teacher_id": "T12", "role": "teacher"},
        {"teacher_id": "T40", "role": "teacher"},
    ]


def test_every_contact_and_link_has_priority_one(store):
    sync(store, fake())
    assert {c["priority"] for c in export(store, "contacts").values()} == {1}
    assert {lk["priority"] for lk in export(store, "contact-links").values()} == {1}


def test_link_relationship_falls_back_to_the_contacts(store):
    sync(store, fake())
    links = export(store, "contact-links")
    assert links[("4821", "9001-1")]["relationship"] == "Mother"
    assert links[("4822", "9002")]["relationship"] == "Aunt"


@pytest.mark.parametrize(
    "sent, expected", [(True, True), (False, False), (None, False), ("missing", False)]
)
def test_parental_responsibility_is_true_only_when_sent_true(store, sent, expected):
    link = {"StudentID": "4822", "ContactID": "9002"}
    if sent != "missing":
        link["ParentalResponsibility"] = sent
    sync(store, fake(small(contact_links=[SMALL["contact-links"][0], link])))
    assert export(store, "contact-links")[("4822", "9002")]["parental_responsibility"] is expected


def test_emails_are_trimmed_and_lower_cased(store):
    sync(store, fake())
    assert export(store, "teachers")["T12"]["email"] == "j.kane@example.org"
    assert export(store, "contacts")["9001-1"]["email"] == "rowans@example.org"


def test_combined_contact_becomes_two_that_both_inherit_every_link(store):
    sync(store, fake())
    contacts = export(store, "contacts")
    assert "9001" not in contacts
    assert contacts["9001-1"] == {
        "id": "9001-1",
        "title": "Mr",
        "forename": "Jon",
        "surname": "Rowan",
        "email": "rowans@example.org",
        "phone": "01632 960123",
        "priority": 1,
        "relationship": "Parents",  # the contact's own Relationship, kept on both halves
        "split_from": "9001",
    }
    assert (contacts["9001-2"]["title"], contacts["9001-2"]["forename"]) == ("Mrs", "Jan")
    assert contacts["9001-2"]["relationship"] == "Parents"
    assert contacts["9002"]["split_from"] is None
    assert contacts["9002"]["relationship"] == "Aunt"
    links = export(store, "contact-links")
    assert {("4821", "9001-1"), ("4821", "9001-2")} <= set(links)


@pytest.mark.parametrize(
    "title, forename, surname, expected",
    [
        ("Mr & Mrs", "Sol", "Day", [("Mr", "Sol", "Day"), ("Mrs", "Sol", "Day")]),
        ("Mr & Mr", "Sol and Ray", "Day", [("Mr", "Sol", "Day"), ("Mr", "Ray", "Day")]),
        (
            "DR AND MRS",
            "Ida and Eve",
            "Cole & Hart",
            [("DR", "Ida", "Cole"), ("MRS", "Eve", "Hart")],
        ),
        ("Mrs", "Ida and Eve", "Cole", None),
    ],
)
def test_split_titles_and_names(store, title, forename, surname, expected):
    contacts = [dict(SMALL["contacts"][0], Title=title, Forename=forename, Surname=surname)]
    sync(store, fake(small(contacts=contacts, contact_links=SMALL["contact-links"][:1])))
    out = export(store, "contacts")
    if expected is None:
        assert list(out) == ["9001"] and out["9001"]["forename"] == "Ida and Eve"
    else:
        assert [
            (out[c]["title"], out[c]["forename"], out[c]["surname"]) for c in ("9001-1", "9001-2")
        ] == expected


def test_null_missing_and_empty_all_mean_not_set_and_extra_keys_are_ignored(store):
    students = [
        dict(SMALL["students"][0], YearGroup="", Unexpected={"nested": 1}),
        {k: v for k, v in SMALL["students"][1].items() if k != "DateOfBirth"},
    ]
    sync(store, fake(small(students=students)))
    out = export(store, "students")
    assert out["4821"]["year_group"] is None
    assert out["4822"]["date_of_birth"] is None


def test_duplicates_across_split_contacts_merge_after_the_split(store):
    contacts = SMALL["contacts"] + [
        {
            "ContactID": "8000",
            "Title": "Mr",
            "Forename": "Jon",
            "Surname": "ROWAN ",
            "Email": "rowans@example.org",
            "Relationship": "Father",
        },
    ]
    links = SMALL["contact-links"] + [{"StudentID": "4822", "ContactID": "8000"}]
    sync(store, fake(small(contacts=contacts, contact_links=links)))
    out = export(store, "contacts")
    # "8000" sorts before "9001-1", so the split half merges into it
    assert "8000" in out and "9001-1" not in out
    assert {("4821", "8000"), ("4822", "8000")} <= set(export(store, "contact-links"))


def test_identical_halves_of_a_split_are_one_person_by_the_duplicate_rule(store):
    """ "Mr & Mr" with one forename and one surname splits into two equal contacts; split
    first, then merge (sync-rules.md) makes them one, under the first ID."""
    contacts = [dict(SMALL["contacts"][0], Title="Mr & Mr", Forename="Sol", Surname="Day")]
    sync(store, fake(small(contacts=contacts, contact_links=SMALL["contact-links"][:1])))
    assert list(export(store, "contacts")) == ["9001-1"]
    assert store.explain("oak", "contacts", "9001-2")["reasons"] == [
        "duplicate contact",
        "merged into contact 9001-1"
        " (same title, names and email: both halves of combined contact 9001)",
    ]
