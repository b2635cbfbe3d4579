"""A teacher enrolled twice in one class (once as primary, once not): still its main teacher,
and listed once (core's ranking keeps a teacher's first place; found by mutation testing)."""

from __future__ import annotations

from .support import enrol, export, school, sync, write


def test_a_primary_teacher_enrolled_again_as_non_primary_stays_main(store, tmp_path):
    data = school()
    data["enrollments"].append(enrol("e30", "c-7a", "t1", "teacher", "false"))
    sync(store, write(tmp_path / "x", data))
    assert export(store, "classes")["c-7a"]["teachers"] == [
        {"teacher_id": "t1", "role": "main"},
        {"teacher_id": "t2", "role": "supervisor"},
    ]
