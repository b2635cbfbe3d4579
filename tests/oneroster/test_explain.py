"""`explain` says what really happened to records that were sent but not kept as what they
are named for, and prints a rule's causes as one flat list (as --json does)."""

from __future__ import annotations

from .support import SCHOOL, enrol, klass, school, sync, user, write, write_config
from .support import cli as run_cli


def reasons(store, entity, rid):
    return store.explain("oak", entity, rid)["reasons"]


def test_a_teacher_sent_for_another_org(store, tmp_path):
    data = school()
    data["enrollments"].append(enrol("e80", "c-7a", "t3", "teacher"))  # t3 is Elm's
    sync(store, write(tmp_path / "x", data))
    assert reasons(store, "teachers", "t3") == [
        "sent for another org",
        "teacher t3 is sent for org sch-elm, not this org",
    ]


def test_a_user_sent_with_another_role(store, tmp_path):
    data = school()
    data["enrollments"].append(enrol("e81", "c-ma7", "s2", "teacher"))  # s2 is a student
    sync(store, write(tmp_path / "x", data))
    assert reasons(store, "teachers", "s2") == [
        "sent with another role",
        "user s2 is sent as a student",
    ]


def test_a_class_marked_tobedeleted(store, tmp_path):
    data = school()
    data["classes"].append(dict(klass("cls-1", "9Z", "scheduled"), status="tobedeleted"))
    sync(store, write(tmp_path / "x", data))
    assert reasons(store, "classes", "cls-1") == [
        "marked tobedeleted",
        "class cls-1 is marked tobedeleted",
    ]
    assert reasons(store, "classes", "c-elm") == ["never sent by the source"]  # Elm's: not ours


def test_a_link_whose_agent_is_a_teacher(store, tmp_path):
    data = school()
    data["users"][0]["agentSourcedIds"] = "t1,p1"
    sync(store, write(tmp_path / "x", data))
    assert reasons(store, "contact-links", "s1:t1") == [
        "agent is not a contact",
        "user t1 is sent as a teacher, not a parent, guardian or relative",
    ]


def test_explain_prints_sibling_causes_as_one_flat_list(db_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pupils = [user(f"s{n}", "student", "sch-oak", n % 12, grades="09") for n in range(10, 16)]
    data = school(users=[*SCHOOL["users"], *pupils])  # grade 09: six pupils in no class
    write_config(tmp_path, db_url, write(tmp_path / "x", data))
    assert run_cli("run", "oneroster").exit_code == 0
    text = run_cli("explain", "groups", "grade-09").stdout
    assert text.splitlines() == [
        "groups grade-09: left out",
        "  no kept student",
        "    because student s10 left out",
        "    because student s11 left out",
        "    because student s12 left out",
        "    and 3 more",
    ]
