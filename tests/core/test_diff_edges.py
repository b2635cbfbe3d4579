"""Edges of change tracking (core/store/diff.py) that mutation testing found untested
(docs/testing.md), through the real pipeline and store: what an event holds, how a run
counts, and that a left-out record's stored reasons follow the latest run."""

from __future__ import annotations

from msgspec.structs import replace

from mis_sync.core.schema import Dataset

from .builders import klass, school, student
from .test_tracking import Source, sync


def events(store, run) -> dict:
    return {(c["entity"], c["id"]): c for c in store.changes("s1", run)}


def with_pupil(sid: str, **fields):
    def make():
        ds = school()
        ds.add("students", [student(sid, **fields)])
        reg = ds.records["classes"]["REG7"]
        ds.records["classes"]["REG7"] = replace(reg, student_ids=[*reg.student_ids, sid])
        return ds

    return make


def test_an_insert_event_lists_only_the_fields_that_are_set(store):
    result = sync(store, Source(with_pupil("S9", year_group=None, date_of_birth="2012-01-02")))
    assert events(store, result["run"])[("students", "S9")]["changes"] == {
        "id": [None, "S9"],
        "known_name": [None, "Kit"],
        "surname": [None, "SS9"],
        "date_of_birth": [None, "2012-01-02"],
    }


def test_an_update_to_not_set_shows_the_old_value_against_null(store):
    sync(store, Source(with_pupil("S9")))
    result = sync(store, Source(with_pupil("S9", year_group=None)))
    assert result["updated"] == 1
    assert events(store, result["run"])[("students", "S9")] == {
        "run": result["run"],
        "entity": "students",
        "id": "S9",
        "op": "update",
        "changes": {"year_group": ["Year 7", None]},
    }


def test_a_delete_gives_every_reason_and_a_restore_counts_as_inserted(store):
    sync(store, Source(with_pupil("S9")))

    def s9_in_a_club():
        ds = with_pupil("S9")()
        reg = ds.records["classes"]["REG7"]
        ds.records["classes"]["REG7"] = replace(reg, student_ids=["S1", "S2", "S3"])
        ds.add("classes", [klass("CLUB", ["S9"], ["T1"], kind=None, source_type="Club")])
        return ds

    gone = sync(store, Source(s9_in_a_club))
    assert (gone["inserted"], gone["updated"], gone["deleted"]) == (0, 1, 1)
    assert events(store, gone["run"])[("students", "S9")]["changes"] == {
        "reason": 'in no kept class; class CLUB left out: type "Club" does not qualify'
    }
    back = sync(store, Source(with_pupil("S9")))
    assert (back["inserted"], back["updated"], back["deleted"]) == (1, 1, 0)
    assert events(store, back["run"])[("students", "S9")]["op"] == "restore"
    assert store.runs("s1")[0]["inserted"] == 1


def test_a_left_out_records_reasons_follow_the_latest_run(store):
    def unqualified(source_type):
        def make():
            ds = school()
            ds.add("classes", [klass("K1", ["S1"], ["T1"], kind=None, source_type=source_type)])
            return ds

        return make

    sync(store, Source(unqualified("Club")))
    assert store.explain("s1", "classes", "K1")["reasons"] == ['type "Club" does not qualify']
    again = sync(store, Source(unqualified("Clinic")))
    assert (again["inserted"], again["updated"], again["deleted"]) == (0, 0, 0)
    assert store.explain("s1", "classes", "K1")["reasons"] == ['type "Clinic" does not qualify']
    sync(store, Source(school))
    assert store.explain("s1", "classes", "K1") == {
        "entity": "classes",
        "id": "K1",
        "kept": False,
        "reasons": ["never sent by the source"],
    }


def test_a_bad_record_without_an_id_protects_nothing(store):
    """Only an ID can name a stored copy: a record with none is counted, and what the MIS no
    longer sends is deleted as usual."""
    sync(store, Source(with_pupil("S9")))

    def bad_without_id():
        ds = school()
        ds.reject("students", None, "students record (no ID): field StudentID: missing")
        return ds

    result = sync(store, Source(bad_without_id))
    assert result["deleted"] == 1
    assert result["left_out_by_reason"] == {"students: failed validation": 1}
    assert events(store, result["run"])[("students", "S9")]["op"] == "delete"


def test_an_empty_school_is_counted_per_entity_against_what_is_stored(store):
    """The mass-delete count is per entity, against that entity's live records."""
    sync(store, Source(school))
    result = sync(store, Source(Dataset), allow_mass_delete=False, options={})
    assert (result["deleted"], result["inserted"]) == (12, 0)


def test_a_run_with_an_insert_and_a_restore_counts_both_as_inserted(store):
    sync(store, Source(with_pupil("S8")))
    sync(store, Source(school))  # S8 deleted

    def s8_back_and_s9_new():
        ds = with_pupil("S8")()
        ds.add("students", [student("S9")])
        reg = ds.records["classes"]["REG7"]
        ds.records["classes"]["REG7"] = replace(reg, student_ids=[*reg.student_ids, "S9"])
        return ds

    result = sync(store, Source(s8_back_and_s9_new))
    assert result["inserted"] == 2
    ops = events(store, result["run"])
    assert (ops[("students", "S8")]["op"], ops[("students", "S9")]["op"]) == ("restore", "insert")


def test_what_only_the_rules_read_and_what_the_school_owns_are_not_stored_content(store):
    """A class's source type serves the rules; a teacher's room is the school's: neither is
    in an event, and a change of the source type alone is no change."""
    first = sync(store, Source(school))
    inserted = events(store, first["run"])
    assert "source_type" not in inserted[("classes", "MA7")]["changes"]
    assert "room" not in inserted[("teachers", "T1")]["changes"]

    def renamed_type():
        ds = school()
        ds.records["classes"]["MA7"] = replace(ds.records["classes"]["MA7"], source_type="Set")
        return ds

    again = sync(store, Source(renamed_type))
    assert (again["inserted"], again["updated"], again["deleted"]) == (0, 0, 0)


def test_deletes_after_a_kept_copy_still_happen(store):
    """A bad record's stored copy is skipped among the deletes; the deletes after it are not."""
    sync(store, Source(school))

    def s1_bad_and_t1_gone():
        ds = school()
        ds.reject("students", "S1", "students record S1: field surname: not a string")
        ds.records["teachers"].pop("T1")
        ma = ds.records["classes"]["MA7"]
        ds.records["classes"]["REG7"] = klass(
            "REG7", ["S2", "S3"], ["T2"], kind="registration", source_type="Registration"
        )
        ds.records["classes"]["MA7"] = replace(ma, student_ids=["S2"])
        return ds

    result = sync(store, Source(s1_bad_and_t1_gone))
    ops = events(store, result["run"])
    assert ("students", "S1") not in ops
    assert ops[("teachers", "T1")]["op"] == "delete"
    assert "S1" in {s["id"] for s in store.export("s1", "students", {})}


def test_the_content_hash_is_part_of_the_stored_format():
    """Stored hashes are compared with the next run's: a changed hash function would make the
    first run after an upgrade rewrite every record with an empty change."""
    from mis_sync.core.store.diff import digest

    assert digest(b'{"id":"S1","known_name":"Kit"}') == "c658831ca698d87709cb0297a3b1e679"
