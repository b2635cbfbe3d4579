"""A delta exchange updates the school's picture rather than replacing it: rows not sent stay,
`tobedeleted` rows go, absent files leave their table alone, and eligibility judges the whole
picture, so a delta gives the records a bulk export of the same data would have given."""

from __future__ import annotations

import pytest

from mis_sync.core.errors import SourceError

from .support import SCHOOL, delta, enrol, export, klass, school, sync, user, write

ALL_ABSENT = {
    "orgs": None,
    "users": None,
    "classes": None,
    "enrollments": None,
    "academicSessions": None,
    "demographics": None,
}
ENTITIES = ("students", "teachers", "classes", "contacts", "contact-links", "groups")


def send(store, tmp_path, name="d", as_zip=False, **files):
    """A delta exchange holding only `files` (each a delta); the other files absent."""
    data = {**ALL_ABSENT, **files}
    modes = {f: "delta" for f in files}
    return sync(store, write(tmp_path / name, data, modes=modes, as_zip=as_zip))


def bulk(store, tmp_path, data=None, name="bulk"):
    return sync(store, write(tmp_path / name, data or school()))


def everything(store):
    return {e: export(store, e) for e in ENTITIES}


def changes(store):
    return sorted((c["entity"], c["id"], c["op"]) for c in store.changes("oak"))


def test_a_delta_changes_only_what_it_sends(store, tmp_path):
    bulk(store, tmp_path)
    renamed = dict(SCHOOL["users"][1], familyName="Quaqua")
    result = send(store, tmp_path, users=delta([renamed]), as_zip=True)
    assert (result["inserted"], result["updated"], result["deleted"]) == (0, 1, 0)
    assert changes(store) == [("students", "s2", "update")]
    assert store.changes("oak")[0]["changes"] == {
        "surname": [SCHOOL["users"][1]["familyName"], "Quaqua"]
    }
    assert set(export(store, "students")) == {"s1", "s2"}


def test_a_delta_gives_what_a_bulk_of_the_same_data_gives(store, tmp_path):
    bulk(store, tmp_path)
    new_pupil = user("s9", "student", "sch-oak", 9, agents="p1", grades="08")
    send(
        store,
        tmp_path,
        users=delta([new_pupil]),
        enrollments=delta([enrol("e50", "c-ma7", "s9", "student")])
        + delta([enrol("e5", "c-ma7", "s1", "student")], status="tobedeleted"),
    )
    after_delta = everything(store)

    data = school()
    data["users"].append(new_pupil)
    data["enrollments"] = [e for e in data["enrollments"] if e["sourcedId"] != "e5"]
    data["enrollments"].append(enrol("e50", "c-ma7", "s9", "student"))
    bulk(store, tmp_path, data, name="bulk2")
    assert store.changes("oak") == []  # nothing left for the equivalent bulk to change
    assert everything(store) == after_delta
    assert after_delta["classes"]["c-ma7"]["student_ids"] == ["s9"]
    assert after_delta["groups"]["grade-08"]["student_ids"] == ["s9"]


def test_tobedeleted_rows_are_deletions(store, tmp_path):
    bulk(store, tmp_path)
    gone = dict(SCHOOL["users"][1])
    send(store, tmp_path, users=delta([gone], status="tobedeleted"))
    assert ("students", "s2", "delete") in changes(store)
    assert "s2" not in export(store, "students")
    assert store.explain("oak", "students", "s2")["reasons"] == [
        "marked tobedeleted",
        "user s2 is marked tobedeleted",
    ]
    # and what needed s2 follows: its guardian now has no kept link
    assert "g1" not in export(store, "contacts")


def test_a_teacher_sent_before_any_class_is_kept_once_a_delta_enrols_them(store, tmp_path):
    """The stored records alone could not do this: a teacher with no class was never kept."""
    data = school()
    data["users"].append(user("t9", "teacher", "sch-oak", 10, title="Dr"))
    bulk(store, tmp_path, data)
    assert store.explain("oak", "teachers", "t9")["reasons"] == ["teaches no class"]
    send(store, tmp_path, enrollments=delta([enrol("e60", "c-ma7", "t9", "teacher")]))
    assert "t9" in export(store, "teachers")
    assert {"teacher_id": "t9", "role": "teacher"} in export(store, "classes")["c-ma7"]["teachers"]


def test_absent_files_keep_what_they_held(store, tmp_path):
    bulk(store, tmp_path)
    before = everything(store)
    result = send(store, tmp_path, orgs=delta([SCHOOL["orgs"][0]]))
    assert (result["inserted"], result["updated"], result["deleted"]) == (0, 0, 0)
    assert everything(store) == before


def test_a_delta_sent_again_changes_nothing(store, tmp_path):
    bulk(store, tmp_path)
    rows = delta([dict(SCHOOL["classes"][1], title="Maths 7")])
    send(store, tmp_path, classes=rows)
    assert send(store, tmp_path, classes=rows)["updated"] == 0
    assert export(store, "classes")["c-ma7"]["description"] == "Maths 7"


def test_an_older_change_than_the_one_applied_is_ignored(store, tmp_path):
    bulk(store, tmp_path)
    newer = delta([dict(SCHOOL["classes"][1], title="Newer")], modified="2025-02-01T00:00:00Z")
    older = delta([dict(SCHOOL["classes"][1], title="Older")], modified="2025-01-01T00:00:00Z")
    send(store, tmp_path, classes=newer)
    send(store, tmp_path, classes=older)
    assert export(store, "classes")["c-ma7"]["description"] == "Newer"


def test_a_user_moving_to_another_school_leaves_this_one(store, tmp_path):
    bulk(store, tmp_path)
    moved = dict(SCHOOL["users"][4], orgSourcedIds="sch-elm")  # t2
    send(store, tmp_path, users=delta([moved]))
    assert "t2" not in export(store, "teachers")
    assert export(store, "classes")["c-ma7"]["teachers"] == [
        {"teacher_id": "t1", "role": "teacher"}
    ]


def test_a_delta_for_a_file_never_received_in_bulk_is_refused(store, tmp_path):
    bulk(store, tmp_path, school(users=None))
    with pytest.raises(
        SourceError, match="users.csv is a delta, but no earlier run of this school"
    ):
        send(store, tmp_path, users=delta([SCHOOL["users"][0]]))


def test_a_first_run_of_deltas_applies_them_to_empty_tables(store, tmp_path, caplog):
    """An exporter that only ever sends deltas (a real one's first exchange is all delta)."""
    data = {name: delta(rows) for name, rows in SCHOOL.items() if name != "academicSessions"}
    result = send(store, tmp_path, **data)
    assert result["status"] == "ok"
    assert "users.csv is a delta and this school has no earlier picture" in caplog.text
    assert set(export(store, "students")) == {"s1", "s2"}
    renamed = dict(SCHOOL["users"][1], familyName="Quaqua")
    send(store, tmp_path, name="d2", users=delta([renamed], modified="2025-02-01T00:00:00Z"))
    assert export(store, "students")["s2"]["surname"] == "Quaqua"


def test_a_dry_run_does_not_keep_its_delta(store, tmp_path):
    bulk(store, tmp_path)
    path = write(
        tmp_path / "d",
        {**ALL_ABSENT, "classes": delta([klass("c-new", "9X", "scheduled")])},
        modes={"classes": "delta"},
    )
    sync(store, path, dry_run=True)
    result = send(
        store, tmp_path, name="e", classes=delta([dict(SCHOOL["classes"][0], title="7A")])
    )
    assert result["updated"] == 1 and "c-new" not in export(store, "classes")
    assert store.explain("oak", "classes", "c-new")["reasons"] == ["never sent by the source"]


def test_each_school_of_one_file_keeps_its_own_picture(store, tmp_path):
    path = write(tmp_path / "bulk", school())
    sync(store, path)
    sync(store, path, key="elm", options={"org": "sch-elm"})
    renamed = dict(SCHOOL["classes"][2], title="Elm science")
    d = write(
        tmp_path / "d", {**ALL_ABSENT, "classes": delta([renamed])}, modes={"classes": "delta"}
    )
    sync(store, d)
    sync(store, d, key="elm", options={"org": "sch-elm"})
    assert export(store, "classes", "elm")["c-elm"]["description"] == "Elm science"
    assert set(export(store, "classes", "oak")) == {"c-7a", "c-ma7"}
    assert store.changes("oak") == []


def test_a_bulk_after_deltas_replaces_the_picture(store, tmp_path):
    bulk(store, tmp_path)
    send(
        store,
        tmp_path,
        users=delta([user("s9", "student", "sch-oak", 9)]),
        enrollments=delta([enrol("e50", "c-ma7", "s9", "student")]),
    )
    assert "s9" in export(store, "students")
    bulk(store, tmp_path, name="bulk2")
    assert "s9" not in export(store, "students")


def test_an_older_delta_sent_after_a_deletion_restores_nothing(store, tmp_path):
    """s1 tobedeleted at 2019-06-01, then an older delta (2019-05-15) with s1 active, in
    another class and grade: the tombstone in the source state says the older row is stale."""
    bulk(store, tmp_path)
    s1 = SCHOOL["users"][0]
    send(store, tmp_path, name="d1", users=delta([s1], "2019-06-01T00:00:00Z", "tobedeleted"))
    assert "s1" not in export(store, "students")
    before = everything(store)
    older = dict(s1, grades="09")
    result = send(
        store,
        tmp_path,
        name="d2",
        users=delta([older], "2019-05-15T00:00:00Z"),
        enrollments=delta([enrol("e70", "c-ma7", "s1", "student")], "2019-05-15T00:00:00Z"),
    )
    assert (result["inserted"], result["updated"], result["deleted"]) == (0, 0, 0)
    assert everything(store) == before
    assert "grade-09" not in export(store, "groups")
    # a newer row than the deletion does bring the student back
    send(store, tmp_path, name="d3", users=delta([s1], "2019-07-01T00:00:00Z"))
    assert "s1" in export(store, "students")


def test_rows_without_date_last_modified_follow_the_order_of_the_exchanges(store, tmp_path):
    bulk(store, tmp_path)
    s2 = {k: v for k, v in SCHOOL["users"][1].items()}
    gone = [{"status": "tobedeleted", **s2}]
    send(store, tmp_path, name="d1", users=gone)
    assert "s2" not in export(store, "students")
    send(store, tmp_path, name="d2", users=[{"status": "active", **s2}])
    assert "s2" in export(store, "students")
