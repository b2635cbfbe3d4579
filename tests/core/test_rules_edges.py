"""Edges of the core rules that mutation testing found untested (docs/testing.md): how many
causes a reason names, which near matches are reported, what a merged link keeps, and the
wording that tells one cause from another. Each is something stored: a reason, a link, a
near-duplicate pair."""

from __future__ import annotations

from msgspec.structs import replace

from mis_sync.core.rules import apply_eligibility, merge_duplicate_contacts
from mis_sync.core.schema import ClassTeacher, Group

from .builders import contact, klass, link, school, student, teacher
from .test_tracking import Source, sync


def run_rules(ds, **options):
    merge_duplicate_contacts(ds)
    apply_eligibility(ds, **options)
    return ds


def reasons(ds, entity, rid):
    return ds.left_out[entity][rid].reasons


def test_a_reason_names_three_causes_then_counts_the_rest():
    ds = school()
    ds.add("teachers", [teacher("T9")])
    for n, pupils in ((3, ["X1", "X2", "X3"]), (4, ["Y1", "Y2", "Y3", "Y4"])):
        ds.add("students", [student(s) for s in pupils])
        ds.add("classes", [klass(f"K{n}", pupils, ["T9"])])
        for s in pupils:
            ds.leave_out("students", s, "left out by a plugin")
    ds.add("classes", [klass("K6", [f"Z{i}" for i in range(6)], ["T9"])])
    run_rules(ds)
    assert reasons(ds, "classes", "K3") == ["no kept student"] + [
        f"student X{i} left out: left out by a plugin" for i in (1, 2, 3)
    ]
    assert reasons(ds, "classes", "K4")[1:] == [
        "student Y1 left out: left out by a plugin",
        "student Y2 left out: left out by a plugin",
        "student Y3 left out: left out by a plugin",
        "and 1 more",
    ]
    assert reasons(ds, "classes", "K6") == [
        "no kept student",
        "student Z0 not sent by the source",
        "student Z1 not sent by the source",
        "student Z2 not sent by the source",
        "and 3 more",
    ]


def test_a_class_with_only_unsent_teachers_says_so():
    ds = school()
    ds.add("classes", [klass("GH", ["S1"], ["NOPE1", "NOPE2"])])
    ds.add("classes", [klass("NT", ["S1"], [])])
    run_rules(ds)
    assert reasons(ds, "classes", "GH") == [
        "no kept teacher",
        "teacher NOPE1 not sent by the source",
        "teacher NOPE2 not sent by the source",
    ]
    assert reasons(ds, "classes", "NT") == ["has no teachers"]


def test_a_teacher_whose_only_class_lost_its_teachers_elsewhere_says_left_out():
    """A sent teacher who is not kept, named in another class's reason: `teacher T left out`."""
    ds = school()
    ds.add("teachers", [teacher("T7")])
    ds.add("classes", [klass("ART", ["GONE"], ["T7"]), klass("DT", ["GONE2"], ["T7"])])
    run_rules(ds)
    assert reasons(ds, "teachers", "T7") == [
        "teaches no kept class",
        "class ART left out: no kept student",
        "class DT left out: no kept student",
    ]


def test_a_teacher_listed_twice_in_a_class_is_stored_once_with_the_first_role():
    ds = school()
    reg = ds.records["classes"]["REG7"]
    ds.records["classes"]["REG7"] = klass(
        "REG7", reg.student_ids, ["T2", "T1", "T2"], kind="registration"
    )
    ma = ds.records["classes"]["MA7"]
    ds.records["classes"]["MA7"] = klass("MA7", ma.student_ids, ["T2", "T2"])
    run_rules(ds)
    assert ds.records["classes"]["REG7"].teachers == [
        ClassTeacher(teacher_id="T1", role="supervisor"),
        ClassTeacher(teacher_id="T2", role="main"),
    ]
    assert ds.records["classes"]["MA7"].teachers == [ClassTeacher(teacher_id="T2", role="teacher")]


def test_a_group_that_lists_only_left_out_or_no_pupils_says_which():
    ds = school()
    ds.leave_out("students", "S3", "left out by a plugin")
    ds.add(
        "groups",
        [
            Group(id="G7", description="Empty", kind="house", source_type="House group"),
            Group(
                id="G8",
                description="Gone",
                kind="student",
                source_type="Student group",
                student_ids=["S3", "S99"],
            ),
        ],
    )
    run_rules(ds)
    assert reasons(ds, "groups", "G7") == ["has no students"]
    assert reasons(ds, "groups", "G8") == [
        "no kept student",
        "student S3 left out",
        "student S99 left out",
    ]
    assert ds.records["groups"]["G1"].student_ids == ["S1"]


def test_a_link_whose_student_and_contact_both_went_names_both_and_the_option():
    ds = school()
    ds.add("contacts", [contact("C7", title="")])
    ds.add("contact-links", [link("NOPE", "C7", parental_responsibility=False)])
    run_rules(ds, parental_responsibility_only=True)
    assert reasons(ds, "contact-links", "NOPE:C7") == [
        "student not kept",
        "student NOPE not sent by the source",
        "contact C7 left out: title is blank",
        "parental_responsibility_only is on",
    ]


def test_a_contact_whose_links_all_went_names_each_pupil():
    ds = school()
    ds.add("contacts", [contact("C8")])
    ds.add("contact-links", [link("GONE1", "C8"), link("GONE2", "C8")])
    run_rules(ds)
    assert reasons(ds, "contacts", "C8") == [
        "no kept link",
        "link to student GONE1 left out",
        "link to student GONE2 left out",
    ]


def test_near_matches_need_a_set_email_or_both_names():
    ds = school()
    ds.add(
        "contacts",
        [
            # same title and surname, no forename, other emails: too little to call a match
            contact("C40", forename=None, surname="Hale", email="h1@example.org"),
            contact("C41", forename=None, surname="Hale", email="h2@example.org"),
            # same names, both without email: one person by the duplicate rule, merged
            contact("C42", forename="Lee", surname="Park", email=None),
            contact("C43", forename="Lee", surname="Park", email=""),
            # same names, one email blank and one set: a near match by names
            contact("C44", forename="Ira", surname="Cole", email=None),
            contact("C45", forename="Ira", surname="Cole", email="ira@example.org"),
        ],
    )
    ds.add("contact-links", [link("S1", c) for c in ("C40", "C41", "C42", "C43", "C44", "C45")])
    run_rules(ds)
    assert ds.near_duplicates == [("C44", "C45", "same names")]
    assert reasons(ds, "contacts", "C43") == [
        "duplicate contact",
        "merged into contact C42 (same title, names and email)",
    ]


def test_near_matches_by_email_come_sorted_and_skip_merged_and_split_contacts():
    ds = school()
    ds.add(
        "contacts",
        [
            contact("C52", forename="Bo", surname="Ames", email="fam@example.org"),
            contact("C50", forename="Al", surname="Ames", email="fam@example.org"),
            contact("C51", forename="Al", surname="Ames", email="FAM@example.org "),  # merged
            contact("P1-1", title="Mr", forename="Jo", email="pair@example.org", split_from="P1"),
            contact("P1-2", title="Ms", forename="Jo", email="pair@example.org", split_from="P1"),
            contact("P2-1", title="Mr", forename="Ed", email="pair@example.org", split_from="P2"),
        ],
    )
    ds.add("contact-links", [link("S1", c) for c in ("C50", "C51", "C52", "P1-1", "P1-2", "P2-1")])
    run_rules(ds)
    assert ds.near_duplicates == [
        ("C50", "C52", "same email"),
        ("P1-1", "P2-1", "same email"),
        ("P1-2", "P2-1", "same email"),
    ]


def test_a_merged_link_keeps_the_first_relationship_set_and_the_lower_priority():
    ds = school()
    ds.add(
        "contacts",
        [
            contact("C60", surname="Wren", email="w@example.org"),
            contact("C61", surname="Wren", email="w@example.org"),
            contact("C62", surname="Wren", email="w@example.org"),
        ],
    )
    ds.add(
        "contact-links",
        [
            link("S1", "C60", relationship=None, priority=3, parental_responsibility=False),
            link("S1", "C61", relationship="Aunt", priority=2, parental_responsibility=False),
            link("S1", "C62", relationship="Carer", priority=4, parental_responsibility=False),
        ],
    )
    run_rules(ds)
    merged = ds.records["contact-links"]["S1:C60"]
    assert (merged.relationship, merged.priority, merged.parental_responsibility) == (
        "Aunt",
        2,
        False,
    )
    assert reasons(ds, "contact-links", "S1:C61") == [
        "duplicate contact",
        "merged into link S1:C60",
    ]


def test_contacts_merge_only_when_title_forename_surname_and_email_all_match():
    ds = school()
    base = {"forename": "Nia", "surname": "Holt", "email": "n@example.org"}
    ds.add(
        "contacts",
        [
            contact("C70", **base),
            contact("C71", **{**base, "title": "Dr"}),
            contact("C72", **{**base, "forename": "Nina"}),
            contact("C73", **{**base, "surname": "Hole"}),
            contact("C74", **{**base, "email": "m@example.org"}),
            contact("C75", **{k: f"  {v.upper()} " for k, v in base.items()}),
        ],
    )
    ds.add("contact-links", [link("S1", f"C7{i}") for i in range(6)])
    run_rules(ds)
    assert sorted(c for c in ds.records["contacts"] if c.startswith("C7")) == [
        "C70",
        "C71",
        "C72",
        "C73",
        "C74",
    ]
    assert reasons(ds, "contacts", "C75") == [
        "duplicate contact",
        "merged into contact C70 (same title, names and email)",
    ]


def test_same_names_are_reported_whichever_email_sorts_first():
    ds = school()
    ds.add(
        "contacts",
        [
            contact("C80", forename="Uma", surname="Rees", email="z.rees@example.org"),
            contact("C81", forename="Uma", surname="Rees", email="a.rees@example.org"),
        ],
    )
    ds.add("contact-links", [link("S1", "C80"), link("S2", "C81")])
    run_rules(ds)
    assert ds.near_duplicates == [("C80", "C81", "same names")]


def test_a_plain_teacher_listed_first_does_not_take_main_from_the_ranked_ones():
    ds = school()
    ds.add("teachers", [teacher("T3")])
    reg = ds.records["classes"]["REG7"]
    ds.records["classes"]["REG7"] = replace(
        reg,
        teachers=[
            ClassTeacher(teacher_id="T1", role="teacher"),
            ClassTeacher(teacher_id="T3", role="supervisor"),
            ClassTeacher(teacher_id="T2", role="main"),
        ],
    )
    run_rules(ds)
    assert ds.records["classes"]["REG7"].teachers == [
        ClassTeacher(teacher_id="T1", role="teacher"),
        ClassTeacher(teacher_id="T2", role="supervisor"),
        ClassTeacher(teacher_id="T3", role="main"),
    ]


def test_a_class_of_a_type_that_does_not_qualify_says_so_even_when_empty():
    ds = school()
    ds.add("classes", [klass("CLUB", [], [], kind=None, source_type="Club")])
    ds.add("classes", [klass("CLUB2", ["GONE"], ["T1"], kind=None, source_type="Club")])
    run_rules(ds)
    assert reasons(ds, "classes", "CLUB") == ['type "Club" does not qualify']
    assert reasons(ds, "classes", "CLUB2") == ['type "Club" does not qualify']


def test_half_of_a_combined_contact_and_a_plain_contact_with_its_email_are_a_near_match():
    ds = school()
    ds.add(
        "contacts",
        [
            contact("P1-1", title="Mr", forename="Jo", email="pair@example.org", split_from="P1"),
            contact("Q5", title="Ms", forename="Di", email="pair@example.org"),
        ],
    )
    ds.add("contact-links", [link("S1", "P1-1"), link("S2", "Q5")])
    run_rules(ds)
    assert ds.near_duplicates == [("P1-1", "Q5", "same email")]


def test_a_class_reason_names_a_teachers_first_blank_name():
    ds = school()
    ds.add("teachers", [teacher("T9", title="", surname=" ")])
    ds.add("classes", [klass("ART", ["S1"], ["T9"])])
    run_rules(ds)
    assert reasons(ds, "teachers", "T9") == ["title is blank", "surname is blank"]
    assert reasons(ds, "classes", "ART") == [
        "no kept teacher",
        "teacher T9 left out: title is blank",
    ]


def test_a_run_applies_cores_merge_and_filter_as_plugins(store):
    """The rules reach a run only as hook implementations registered by core."""

    def dataset():
        ds = school()
        ds.add("classes", [klass("CLUB", ["S1"], ["T1"], kind=None, source_type="Club")])
        ds.add("contacts", [contact("C9", surname="CC1", email="cc1@example.org")])
        ds.add("contact-links", [link("S3", "C9")])
        return ds

    result = sync(store, Source(dataset))
    # merged duplicates are counted as merged, apart from what was left out
    assert result["left_out_by_reason"] == {'classes: type "Club" does not qualify': 1}
    assert result["merged"] == 2
