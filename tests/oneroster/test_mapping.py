"""Every OneRoster mapping rule (docs/connectors/oneroster.md), driven through the real reader,
pipeline and store, and read back as `mis-sync export` prints it."""

from __future__ import annotations

from .support import HEADERS, SCHOOL, N, enrol, export, klass, school, sync, user, write


def run(store, tmp_path, data=None, **kwargs):
    headers = kwargs.pop("headers", None)
    return sync(store, write(tmp_path / "x", data or school(), headers=headers), **kwargs)


def test_a_small_school_maps_to_the_canonical_model(store, tmp_path):
    result = run(store, tmp_path)
    assert result["status"] == "ok" and result["left_out"] == 0
    assert export(store, "students")["s1"] == {
        "id": "s1",
        "known_name": N[0][0],
        "surname": N[0][1],
        "year_group": "07",
        "registration_class": "7A",
        "date_of_birth": "2012-03-04",
    }
    assert export(store, "classes")["c-ma7"] == {
        "id": "c-ma7",
        "code": "7Ma1",
        "description": "Year 7 Maths, set 1",
        "kind": "class",
        "teachers": [{"teacher_id": "t1", "role": "teacher"}, {"teacher_id": "t2", "role": "main"}],
        "student_ids": ["s1"],
    }


def test_only_the_configured_orgs_records_are_sent(store, tmp_path):
    run(store, tmp_path)
    assert set(export(store, "students")) == {"s1", "s2"}
    assert set(export(store, "teachers")) == {"t1", "t2"}  # t2 works at both schools
    assert set(export(store, "classes")) == {"c-7a", "c-ma7"}
    assert store.explain("oak", "students", "s3")["reasons"] == ["never sent by the source"]


def test_each_school_of_a_multi_school_file_syncs_its_own_records(store, tmp_path):
    path = write(tmp_path / "x", school())
    sync(store, path)
    sync(store, path, key="elm", options={"org": "sch-elm"})
    assert set(export(store, "students", "elm")) == {"s3"}
    assert set(export(store, "teachers", "elm")) == {"t3"}
    assert export(store, "classes", "elm")["c-elm"]["teachers"] == [
        {"teacher_id": "t3", "role": "main"}
    ]
    assert set(export(store, "students", "oak")) == {"s1", "s2"}


def test_known_name_is_the_preferred_first_name_falling_back_to_the_given_name(store, tmp_path):
    data = school()
    data["users"][0]["preferredFirstName"] = "Zel"
    headers = {"users": [*HEADERS["users"], "preferredFirstName"]}
    run(store, tmp_path, data, headers=headers)
    students = export(store, "students")
    assert students["s1"]["known_name"] == "Zel"
    assert students["s2"]["known_name"] == N[1][0]


def test_year_group_is_the_first_grade_and_each_grade_is_a_year_group(store, tmp_path):
    data = school()
    data["users"][1]["grades"] = "08,07"  # quoted in the CSV: it holds a comma
    run(store, tmp_path, data)
    assert export(store, "students")["s2"]["year_group"] == "08"
    groups = export(store, "groups")
    assert groups == {
        "grade-07": {
            "id": "grade-07",
            "description": "Grade 07",
            "kind": "year",
            "student_ids": ["s1", "s2"],
        },
        "grade-08": {
            "id": "grade-08",
            "description": "Grade 08",
            "kind": "year",
            "student_ids": ["s2"],
        },
    }


def test_class_types_homeroom_and_scheduled_qualify_and_others_do_not(store, tmp_path):
    data = school()
    data["classes"].append(klass("c-club", "CH", "club"))
    data["enrollments"] += [
        enrol("e20", "c-club", "s1", "student"),
        enrol("e21", "c-club", "t1", "teacher"),
    ]
    run(store, tmp_path, data)
    kinds = {cid: c["kind"] for cid, c in export(store, "classes").items()}
    assert kinds == {"c-7a": "registration", "c-ma7": "class"}
    assert store.explain("oak", "classes", "c-club")["reasons"] == ['type "club" does not qualify']


def test_homeroom_primary_teacher_is_main_and_the_others_supervise(store, tmp_path):
    run(store, tmp_path)
    assert export(store, "classes")["c-7a"]["teachers"] == [
        {"teacher_id": "t1", "role": "main"},
        {"teacher_id": "t2", "role": "supervisor"},
    ]


def test_a_homeroom_whose_primary_teacher_is_left_out_gets_the_next_as_main(store, tmp_path):
    data = school()
    data["users"][3]["metadata.title"] = ""  # t1: left out by core, title is blank
    run(store, tmp_path, data)
    assert export(store, "classes")["c-7a"]["teachers"] == [{"teacher_id": "t2", "role": "main"}]


def test_registration_class_is_the_homeroom_code_falling_back_to_its_title(store, tmp_path):
    data = school()
    data["classes"][0]["classCode"] = ""
    run(store, tmp_path, data)
    assert export(store, "students")["s1"]["registration_class"] == "7A homeroom"


def test_date_of_birth_comes_from_demographics_when_sent(store, tmp_path):
    run(store, tmp_path, school(demographics=None))
    assert export(store, "students")["s1"]["date_of_birth"] is None


def test_contacts_are_linked_in_agent_order_with_the_role_as_relationship(store, tmp_path):
    run(store, tmp_path)
    links = export(store, "contact-links")
    assert links[("s1", "p1")] == {
        "student_id": "s1",
        "contact_id": "p1",
        "relationship": "Parent",
        "parental_responsibility": False,
        "priority": 1,
    }
    assert (links[("s1", "p2")]["relationship"], links[("s1", "p2")]["priority"]) == ("Relative", 2)
    assert links[("s2", "g1")]["relationship"] == "Guardian"
    contacts = export(store, "contacts")
    # p1's own row names only the district: a contact belongs to whoever names them
    assert contacts["p1"]["phone"] == "01632 960001"
    assert contacts["p2"]["phone"] == "07700 900002"  # from sms when phone is empty
    assert (contacts["p1"]["priority"], contacts["p2"]["priority"]) == (1, 2)


def test_agents_that_are_not_contacts_are_skipped_and_unknown_ones_explained(store, tmp_path):
    data = school()
    data["users"][0]["agentSourcedIds"] = "t1,p2,p-gone,p1"
    run(store, tmp_path, data)
    links = export(store, "contact-links")
    assert {k: v["priority"] for k, v in links.items() if k[0] == "s1"} == {
        ("s1", "p2"): 1,
        ("s1", "p1"): 3,
    }
    assert store.explain("oak", "contact-links", "s1:p-gone")["reasons"] == [
        "contact not kept",
        "contact p-gone not sent by the source",
    ]


def test_titles_come_from_the_title_column_or_the_schools_default(store, tmp_path):
    data = school()
    for u in data["users"]:
        u["metadata.title"] = ""
    run(store, tmp_path, data)
    assert export(store, "teachers") == {}
    assert store.explain("oak", "teachers", "t1")["reasons"] == ["title is blank"]
    run(store, tmp_path, data, options={"default_title": "Mx"})
    assert {t["title"] for t in export(store, "teachers").values()} == {"Mx"}
    assert {c["title"] for c in export(store, "contacts").values()} == {"Mx"}


def test_title_column_can_be_another_extension_column(store, tmp_path):
    data = school()
    for u in data["users"]:
        title = u.pop("metadata.title")
        u["metadata.salutation"] = "Prof" if u["sourcedId"] == "t1" else title
    headers = {"users": [h for h in HEADERS["users"] if h != "metadata.title"]}
    headers["users"].append("metadata.salutation")
    run(store, tmp_path, data, headers=headers, options={"title_column": "metadata.salutation"})
    assert export(store, "teachers")["t1"]["title"] == "Prof"


def test_emails_are_lower_cased_and_empty_fields_are_not_set(store, tmp_path):
    data = school()
    data["users"][3]["email"] = " Wyl.Nox@Example.ORG "
    data["users"][4]["email"] = ""
    run(store, tmp_path, data)
    teachers = export(store, "teachers")
    assert teachers["t1"]["email"] == "wyl.nox@example.org"
    assert teachers["t2"]["email"] is None


def test_enrollments_of_another_schools_classes_do_not_count(store, tmp_path):
    data = school()
    data["enrollments"].append(enrol("e30", "c-elm", "s2", "student", school="sch-elm"))
    run(store, tmp_path, data)
    assert "c-elm" not in export(store, "classes")
    assert export(store, "classes")["c-7a"]["student_ids"] == ["s1", "s2"]


def test_core_rules_apply_unchanged(store, tmp_path):
    data = school()
    data["enrollments"] = [e for e in data["enrollments"] if e["sourcedId"] != "e2"]
    run(store, tmp_path, data)
    assert store.explain("oak", "students", "s2")["reasons"] == ["in no class"]
    assert store.explain("oak", "contacts", "g1")["reasons"][0] == "no kept link"


def test_users_with_other_roles_are_not_mapped(store, tmp_path):
    data = school(users=[*SCHOOL["users"], user("a1", "administrator", "sch-oak", 9)])
    data["enrollments"].append(enrol("e40", "c-7a", "a1", "administrator"))
    run(store, tmp_path, data)
    for entity in ("students", "teachers", "contacts"):
        assert "a1" not in export(store, entity)
    assert [t["teacher_id"] for t in export(store, "classes")["c-7a"]["teachers"]] == ["t1", "t2"]
