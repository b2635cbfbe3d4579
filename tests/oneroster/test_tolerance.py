"""What real exporters write and the standard allows (or other readers accept) loads, with a
warning where something is odd; only truly broken files are refused (issue 15's list)."""

from __future__ import annotations

import json

import pytest

from mis_sync.core.errors import SafeguardStop

from .support import (
    HEADERS,
    SCHOOL,
    N,
    as_1_2,
    enrol,
    export,
    school,
    sync,
    user,
    write,
    write_config,
)
from .support import cli as run_cli

ENTITIES = ("students", "teachers", "classes", "contacts", "contact-links", "groups")


def everything(store):
    return {e: export(store, e) for e in ENTITIES}


def run(store, tmp_path, data=None, name="x", **kwargs):
    options = kwargs.pop("options", {})
    return sync(store, write(tmp_path / name, data or school(), **kwargs), options=options)


def test_a_header_only_bulk_file_is_an_empty_file_with_one_warning(store, tmp_path, caplog):
    data = school(demographics=[])
    assert run(store, tmp_path, data)["status"] == "ok"
    assert export(store, "students")["s1"]["date_of_birth"] is None
    assert caplog.text.count("demographics.csv holds only its header row") == 1


def test_a_header_only_bulk_users_file_still_meets_the_mass_delete_safeguard(store, tmp_path):
    many = [user(f"s{n}", "student", "sch-oak", n % 12, grades="07") for n in range(10, 30)]
    data = school(users=[*SCHOOL["users"], *many])
    data["enrollments"] += [enrol(f"e{n}", "c-7a", f"s{n}", "student") for n in range(10, 30)]
    run(store, tmp_path, data)
    assert len(export(store, "students")) == 22
    with pytest.raises(SafeguardStop, match="students"):
        run(store, tmp_path, school(users=[]), name="empty")
    assert len(export(store, "students")) == 22
    result = sync(store, tmp_path / "empty", allow_mass_delete=True)
    assert result["status"] == "ok" and export(store, "students") == {}


def test_enumerations_are_read_in_any_case(store, tmp_path):
    run(store, tmp_path, name="plain")
    plain = everything(store)
    data = school()
    data["classes"][0]["classType"] = "HomeRoom"
    data["classes"][1]["classType"] = "Scheduled"
    for u in data["users"]:
        u["role"] = u["role"].upper()
        u["status"] = "Active"
    for e in data["enrollments"]:
        e["role"] = e["role"].capitalize()
    modes = {"users": "BULK", "classes": "Bulk"}
    assert run(store, tmp_path, data, modes=modes)["status"] == "ok"
    assert everything(store) == plain


def test_status_inactive_is_read_as_tobedeleted(store, tmp_path):
    data = school()
    data["users"][1]["status"] = "inactive"  # s2, as OneRoster 1.0 said it
    run(store, tmp_path, data)
    assert "s2" not in export(store, "students")
    assert store.explain("oak", "students", "s2")["reasons"] == [
        "marked tobedeleted",
        "user s2 is marked tobedeleted",
    ]


def test_columns_and_files_the_mapping_does_not_read_are_not_judged(store, tmp_path):
    run(store, tmp_path, name="plain")
    plain = everything(store)
    data = school()
    data["users"][3]["enabledUser"] = "yes"  # not read: whether an account is enabled
    data["enrollments"][0]["beginDate"] = "15/03/2022"  # not read
    data["academicSessions"][0]["startDate"] = "2024-13-01"  # the file is never opened
    data["academicSessions"][0]["status"] = "archived"
    raw = {"courses.csv": b'not, a "valid csv\n', "userProfiles.csv": b"\xff\xfe"}
    assert run(store, tmp_path, data, raw=raw)["status"] == "ok"
    assert everything(store) == plain


def test_preferred_given_name_is_read_under_its_1_2_name(store, tmp_path):
    data = school()
    data["users"][0]["preferredGivenName"] = "Zel"
    data["users"][1]["preferredFirstName"] = "Vex"
    headers = {"users": [*HEADERS["users"], "preferredGivenName", "preferredFirstName"]}
    run(store, tmp_path, data, headers=headers)
    students = export(store, "students")
    assert (students["s1"]["known_name"], students["s2"]["known_name"]) == ("Zel", "Vex")


def test_a_parent_naming_a_student_is_a_link_and_both_directions_make_one(store, tmp_path):
    data = school()
    data["users"][0]["agentSourcedIds"] = "p2"  # s1 names p2 only
    data["users"][6]["agentSourcedIds"] = "s1,s2"  # p1 names s1 and s2 from its own row
    data["users"][7]["agentSourcedIds"] = "s1"  # p2 names s1 back: still one link
    data["users"][1]["agentSourcedIds"] = ""
    data["users"][8]["agentSourcedIds"] = "s2"  # g1 names s2
    run(store, tmp_path, data)
    links = {k: v["priority"] for k, v in export(store, "contact-links").items()}
    assert links == {("s1", "p2"): 1, ("s1", "p1"): 2, ("s2", "g1"): 1, ("s2", "p1"): 2}


def test_header_names_are_matched_in_any_case_and_a_missing_one_is_a_warning(
    store, tmp_path, caplog
):
    headers = {
        "demographics": ["sourcedId", "status", "dateLastModified", "birthdate", "sex"],
        "users": [h.upper() if h == "email" else h for h in HEADERS["users"] if h != "grades"],
    }
    data = school()
    for u in data["users"]:
        u["EMAIL"] = u.pop("email")
        u.pop("grades")
    data["demographics"][0]["birthdate"] = data["demographics"][0].pop("birthDate")
    run(store, tmp_path, data, headers=headers)
    s1 = export(store, "students")["s1"]
    assert (s1["date_of_birth"], s1["year_group"]) == ("2012-03-04", None)
    assert export(store, "teachers")["t1"]["email"] == f"{N[3][0]}.{N[3][1]}@example.org".lower()
    assert "users.csv: no column grades; it is read as not set" in caplog.text


def test_one_main_teacher_per_scheduled_class_and_a_homeroom_always_has_one(store, tmp_path):
    data = school()
    data["enrollments"][6]["primary"] = "true"  # c-ma7: t1 and t2 both primary
    data["enrollments"][2]["primary"] = ""  # c-7a: t1 not primary ...
    data["enrollments"] = [e for e in data["enrollments"] if e["sourcedId"] != "e4"]  # alone
    run(store, tmp_path, data)
    classes = export(store, "classes")
    assert classes["c-ma7"]["teachers"] == [
        {"teacher_id": "t1", "role": "main"},  # the lowest ID of the primary ones
        {"teacher_id": "t2", "role": "teacher"},
    ]
    assert classes["c-7a"]["teachers"] == [{"teacher_id": "t1", "role": "main"}]


def test_a_dated_last_modified_that_is_no_date_is_a_warning(store, tmp_path, caplog):
    data = school()
    data["users"][3]["dateLastModified"] = "1/05/2023"
    assert run(store, tmp_path, data)["status"] == "ok"
    assert "users.csv line 5, column dateLastModified: '1/05/2023' is not an ISO" in caplog.text


def test_unnamed_trailing_columns_and_their_empty_fields_are_ignored(store, tmp_path):
    run(store, tmp_path, name="plain")
    plain = everything(store)
    header = ",".join(HEADERS["orgs"]) + ",,\r\n"
    body = "".join(",".join(o.get(h, "") for h in HEADERS["orgs"]) + "\r\n" for o in SCHOOL["orgs"])
    run(store, tmp_path, raw={"orgs.csv": (header + body).encode()})
    assert everything(store) == plain


def _cli(tmp_path, monkeypatch, path, **options):
    monkeypatch.chdir(tmp_path)
    write_config(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", path, **options)
    return run_cli("run", "oneroster", "--school", "oak")


def test_a_title_column_not_in_users_csv_is_a_config_error(tmp_path, monkeypatch):
    result = _cli(tmp_path, monkeypatch, write(tmp_path / "x", school()), title_column="titel")
    assert result.exit_code == 2, result.stdout
    assert "option title_column: users.csv has no column 'titel'" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_default_title_column_missing_is_a_warning(store, tmp_path, caplog):
    headers = {"users": [h for h in HEADERS["users"] if h != "metadata.title"]}
    data = school()
    for u in data["users"]:
        u.pop("metadata.title")
    run(store, tmp_path, data, headers=headers)
    assert "users.csv: no column metadata.title (the default title_column)" in caplog.text
    assert export(store, "teachers") == {}
    run(store, tmp_path, data, headers=headers, name="y", options={"default_title": "Mx"})
    assert len(export(store, "teachers")) == 2


def test_an_org_with_nothing_is_a_warning_naming_the_orgs_that_have_something(
    store, tmp_path, caplog
):
    result = sync(store, write(tmp_path / "x", school()), options={"org": "dist-1"})
    assert result["status"] == "ok"
    assert (
        "org 'dist-1' has no classes, so nothing of it can be kept; orgs with classes:"
        " sch-elm, sch-oak"
    ) in caplog.text


def test_an_org_not_in_orgs_csv_is_a_config_error(tmp_path, monkeypatch):
    result = _cli(tmp_path, monkeypatch, write(tmp_path / "x", school()), org="sch-ash")
    assert result.exit_code == 2, result.stdout
    assert "option org: 'sch-ash' is not in orgs.csv" in result.stderr
    assert "orgs with classes or users: dist-1, sch-elm, sch-oak" in result.stderr
    runs = json.loads(run_cli("runs", "--json").stdout)
    assert [r["status"] for r in runs] == ["failed"]


# -- OneRoster 1.2 ------------------------------------------------------------------------------


def test_a_1_2_bulk_gives_what_the_same_1_1_school_gives(store, tmp_path):
    run(store, tmp_path, name="plain")
    plain = everything(store)
    data = as_1_2(school())
    data["userProfiles"] = None
    result = run(store, tmp_path, data, name="v12", version="1.2")
    assert result["status"] == "ok" and result["inserted"] == 0 and result["updated"] == 0
    assert everything(store) == plain


def test_1_2_preferred_names_are_a_students_known_name_and_surname(store, tmp_path):
    data = as_1_2(school())
    data["users"][0].update(preferredGivenName="Zel", preferredFamilyName="Quavel")
    run(store, tmp_path, data, version="1.2")
    s1 = export(store, "students")["s1"]
    assert (s1["known_name"], s1["surname"]) == ("Zel", "Quavel")


def test_a_1_2_user_with_two_roles_is_each(store, tmp_path):
    data = as_1_2(school())
    # t1 is also g1's fellow guardian of s2 (a secondary role) and s2 names them
    data["roles"].append(
        {
            "sourcedId": "role-t1-g",
            "userSourcedId": "t1",
            "role": "guardian",
            "orgSourcedId": "sch-oak",
        }
    )
    next(u for u in data["users"] if u["sourcedId"] == "s2")["agentSourcedIds"] = "g1,t1"
    run(store, tmp_path, data, version="1.2")
    assert "t1" in export(store, "teachers") and "t1" in export(store, "contacts")
    assert export(store, "contact-links")[("s2", "t1")]["relationship"] == "Guardian"


def test_a_1_2_roles_delta_takes_a_teacher_out(store, tmp_path):
    run(store, tmp_path, as_1_2(school()), version="1.2")
    gone = {"sourcedId": "role-t2-0", "status": "tobedeleted", "dateLastModified": "2025-02-01"}
    absent = dict.fromkeys(["orgs", "users", "classes", "enrollments", "academicSessions"])
    data = {**absent, "demographics": None, "roles": [gone]}
    run(store, tmp_path, data, name="d", version="1.2", modes={"roles": "delta"})
    assert "t2" not in export(store, "teachers")
    assert store.explain("oak", "teachers", "t2")["reasons"] == [
        "sent for another org",
        "user t2 holds no teacher role in org sch-oak",
    ]
