"""Each core rule of sync-rules.md ("Duplicate contacts", "Eligibility") against a small school."""

from __future__ import annotations

from msgspec.structs import replace

from mis_sync.core.rules import apply_eligibility, merge_duplicate_contacts
from mis_sync.core.schema import Group

from .builders import contact, klass, link, school, student, teacher


def run_rules(ds, **options):
    merge_duplicate_contacts(ds)
    apply_eligibility(ds, **options)
    return ds


def kept(ds, entity):
    return sorted(ds.records[entity])


def reasons(ds, entity, rid):
    return ds.left_out[entity][rid].reasons


def test_a_valid_school_keeps_everything():
    ds = run_rules(school())
    assert kept(ds, "students") == ["S1", "S2", "S3"]
    assert kept(ds, "classes") == ["MA7", "REG7"]
    assert kept(ds, "contacts") == ["C1", "C2"]
    assert all(not outs for outs in ds.left_out.values())


def test_class_of_an_unqualifying_type_is_left_out_and_its_only_pupil_follows():
    ds = school()
    ds.add("students", [student("S9")])
    ds.add("classes", [klass("CLUB", ["S9", "S1"], ["T1"], kind=None, source_type="Club")])
    run_rules(ds)
    assert reasons(ds, "classes", "CLUB") == ['type "Club" does not qualify']
    assert reasons(ds, "students", "S9") == [
        "in no kept class",
        'class CLUB left out: type "Club" does not qualify',
    ]
    assert "S1" in ds.records["students"]


def test_student_in_no_class_is_left_out():
    ds = school()
    ds.add("students", [student("S9")])
    run_rules(ds)
    assert reasons(ds, "students", "S9") == ["in no class"]


def test_teacher_with_blank_title_is_left_out_and_the_chain_reaches_contacts():
    ds = school()
    ds.add("teachers", [teacher("T9", title=" ")])
    ds.add("students", [student("S9")])
    ds.add("classes", [klass("ART", ["S9"], ["T9"])])
    ds.add("contacts", [contact("C9")])
    ds.add("contact-links", [link("S9", "C9")])
    run_rules(ds)
    assert reasons(ds, "teachers", "T9") == ["title is blank"]
    assert reasons(ds, "classes", "ART") == [
        "no kept teacher",
        "teacher T9 left out: title is blank",
    ]
    assert reasons(ds, "students", "S9")[0] == "in no kept class"
    assert reasons(ds, "contact-links", "S9:C9") == [
        "student not kept",
        "student S9 left out: in no kept class",
    ]
    assert reasons(ds, "contacts", "C9") == ["no kept link", "link to student S9 left out"]


def test_blank_forename_or_surname_also_leaves_a_teacher_out():
    ds = school()
    ds.add("teachers", [teacher("T8", forename=None, surname="")])
    ds.records["classes"]["MA7"] = klass("MA7", ["S1", "S2"], ["T2", "T8"])
    run_rules(ds)
    assert reasons(ds, "teachers", "T8") == ["forename is blank", "surname is blank"]
    assert [t.teacher_id for t in ds.records["classes"]["MA7"].teachers] == ["T2"]


def test_fixed_point_removes_a_class_whose_pupils_all_left():
    """A class with a kept teacher but only pupils that a plugin left out goes too."""
    ds = school()
    ds.add("students", [student("S7")])
    ds.add("teachers", [teacher("T7")])
    ds.add("classes", [klass("DT", ["S7"], ["T7"])])
    ds.leave_out("students", "S7", "left out by a school plugin")
    run_rules(ds)
    assert reasons(ds, "classes", "DT") == [
        "no kept student",
        "student S7 left out: left out by a school plugin",
    ]
    assert reasons(ds, "teachers", "T7") == [
        "teaches no kept class",
        "class DT left out: no kept student",
    ]


def test_teacher_who_teaches_nothing_is_left_out():
    ds = school()
    ds.add("teachers", [teacher("T5")])
    run_rules(ds)
    assert reasons(ds, "teachers", "T5") == ["teaches no class"]


def test_empty_class_is_left_out():
    ds = school()
    ds.add("classes", [klass("EMPTY", [], ["T1"])])
    run_rules(ds)
    assert reasons(ds, "classes", "EMPTY") == ["has no students"]


def test_kept_class_lists_only_kept_pupils_and_teachers():
    ds = school()
    ds.add("teachers", [teacher("TX", surname="")])
    ds.records["classes"]["MA7"] = klass("MA7", ["S2", "S1", "GHOST", "S1"], ["T2", "TX"])
    run_rules(ds)
    ma7 = ds.records["classes"]["MA7"]
    assert ma7.student_ids == ["S1", "S2"]
    assert [t.teacher_id for t in ma7.teachers] == ["T2"]


def test_first_kept_registration_teacher_becomes_main():
    ds = school()
    ds.add("teachers", [teacher("T0", title=None)])
    ds.records["classes"]["REG7"] = klass(
        "REG7", ["S1", "S2", "S3"], ["T0", "T2"], kind="registration", source_type="Registration"
    )
    run_rules(ds)
    assert [(t.teacher_id, t.role) for t in ds.records["classes"]["REG7"].teachers] == [
        ("T2", "main")
    ]


def test_teaching_set_teachers_are_all_the_same_level():
    ds = school()
    ds.records["classes"]["MA7"] = klass("MA7", ["S1"], ["T2", "T1"])
    run_rules(ds)
    assert [(t.teacher_id, t.role) for t in ds.records["classes"]["MA7"].teachers] == [
        ("T1", "teacher"),
        ("T2", "teacher"),
    ]


def test_contact_with_a_blank_name_or_no_link_is_left_out():
    ds = school()
    ds.add("contacts", [contact("C7", surname="  "), contact("C8")])
    ds.add("contact-links", [link("S3", "C7")])
    run_rules(ds)
    assert reasons(ds, "contacts", "C7") == ["surname is blank"]
    assert reasons(ds, "contact-links", "S3:C7") == [
        "contact not kept",
        "contact C7 left out: surname is blank",
    ]
    assert reasons(ds, "contacts", "C8") == ["has no links"]


def test_link_to_a_student_never_sent_is_left_out():
    ds = school()
    ds.add("contact-links", [link("NOPE", "C1")])
    run_rules(ds)
    assert reasons(ds, "contact-links", "NOPE:C1") == [
        "student not kept",
        "student NOPE not sent by the source",
    ]


def test_parental_responsibility_only_keeps_only_links_with_it():
    ds = school()
    ds.records["contact-links"]["S2:C2"] = link("S2", "C2", parental_responsibility=False)
    run_rules(ds, parental_responsibility_only=True)
    assert reasons(ds, "contact-links", "S2:C2") == [
        "no parental responsibility",
        "parental_responsibility_only is on",
    ]
    assert reasons(ds, "contacts", "C2")[0] == "no kept link"
    ds_off = school()
    ds_off.records["contact-links"]["S2:C2"] = link("S2", "C2", parental_responsibility=False)
    assert "S2:C2" in run_rules(ds_off).records["contact-links"]


def test_groups_need_a_qualifying_type_and_a_kept_pupil():
    ds = school()
    ds.add(
        "groups",
        [
            Group(
                id="G2", description="Chess", kind=None, source_type="Club list", student_ids=["S1"]
            ),
            Group(
                id="G3",
                description="Year 8",
                kind="year",
                source_type="Year group",
                student_ids=["S99"],
            ),
            Group(
                id="G4",
                description="Nurture",
                kind="student",
                source_type="Student group",
                student_ids=["S2", "S99", "S1"],
            ),
        ],
    )
    run_rules(ds)
    assert reasons(ds, "groups", "G2") == ['type "Club list" does not qualify']
    assert reasons(ds, "groups", "G3")[0] == "no kept student"
    assert ds.records["groups"]["G4"].student_ids == ["S1", "S2"]


def test_duplicate_contacts_are_stored_once_under_the_first_id_with_all_links():
    ds = school()
    ds.add(
        "contacts",
        [
            contact("C30", surname="Lane", email=" Pat@Example.org "),
            contact("C4", surname="lane ", email="pat@example.org"),
        ],
    )
    ds.add("contact-links", [link("S1", "C30"), link("S3", "C4", parental_responsibility=False)])
    run_rules(ds)
    # "C30" sorts before "C4" as a string
    assert "C30" in ds.records["contacts"] and "C4" not in ds.records["contacts"]
    assert reasons(ds, "contacts", "C4") == [
        "duplicate contact",
        "merged into contact C30 (same title, names and email)",
    ]
    assert {"S1:C30", "S3:C30"} <= set(ds.records["contact-links"])
    assert "S3:C4" in ds.left_out["contact-links"]


def test_duplicate_merge_happens_before_eligibility():
    """The first ID survives even when only the other one had a link to a kept pupil."""
    ds = school()
    ds.add(
        "contacts",
        [
            contact("C10", surname="Moss", email="m@example.org"),
            contact("C11", surname="Moss", email="m@example.org"),
        ],
    )
    ds.add("contact-links", [link("GONE", "C10"), link("S3", "C11")])
    run_rules(ds)
    assert "C10" in ds.records["contacts"]
    assert "S3:C10" in ds.records["contact-links"]


def test_near_duplicates_are_reported_not_merged():
    ds = school()
    ds.add(
        "contacts",
        [
            contact("C20", forename="Sam", surname="Reed", email="reed@example.org"),
            contact("C21", forename="Samuel", surname="Reed", email="reed@example.org"),
            contact("C22", forename="Jo", surname="Hart", email="jo1@example.org"),
            contact("C23", forename="Jo", surname="Hart", email="jo2@example.org"),
        ],
    )
    ds.add("contact-links", [link("S1", c) for c in ("C20", "C21", "C22", "C23")])
    run_rules(ds)
    assert {"C20", "C21", "C22", "C23"} <= set(ds.records["contacts"])
    assert ("C20", "C21", "same email") in ds.near_duplicates
    assert ("C22", "C23", "same names") in ds.near_duplicates


def test_merged_link_keeps_parental_responsibility_of_either():
    ds = school()
    ds.add(
        "contacts",
        [
            contact("C5", surname="Vale", email="v@example.org"),
            contact("C6", surname="Vale", email="v@example.org"),
        ],
    )
    ds.add("contact-links", [link("S1", "C5", parental_responsibility=False), link("S1", "C6")])
    run_rules(ds)
    assert ds.records["contact-links"]["S1:C5"].parental_responsibility is True


def test_a_school_plugin_can_leave_out_a_record_and_rules_follow_it():
    ds = school()
    ds.records["students"]["S3"] = replace(ds.records["students"]["S3"], year_group="Year 13")
    ds.leave_out("students", "S3", "sixth form is not synced")
    run_rules(ds)
    assert reasons(ds, "students", "S3") == ["sixth form is not synced"]
    assert ds.records["groups"]["G1"].student_ids == ["S1"]


def test_halves_of_one_combined_contact_are_not_near_duplicates():
    ds = school()
    ds.add(
        "contacts",
        [
            contact("C9-1", title="Mr", forename="Jon", email="pair@example.org", split_from="C9"),
            contact("C9-2", title="Mrs", forename="Jan", email="pair@example.org", split_from="C9"),
        ],
    )
    ds.add("contact-links", [link("S1", "C9-1"), link("S1", "C9-2")])
    run_rules(ds)
    assert ds.near_duplicates == []
