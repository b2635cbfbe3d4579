"""Local fields (sync-rules.md): core registers a teacher's `room` as the school's own, so a
room the MIS sends is no change and never reaches the store, whatever the connector does."""

from __future__ import annotations

from msgspec.structs import replace

from mis_sync.core import pipeline, plugins

from .builders import school
from .test_tracking import Source, sync


def test_core_registers_a_teachers_room_as_local():
    assert pipeline.local_fields(plugins.manager(Source())) == {"teachers": {"room"}}


def test_a_room_sent_by_the_mis_is_no_change_and_the_schools_room_stays(store):
    sync(store, Source(school))
    store.set_local("s1", "teachers", "T1", "room", "B12")

    def mis_sends_rooms():
        ds = school()
        for tid, t in list(ds.records["teachers"].items()):
            ds.records["teachers"][tid] = replace(t, room="MIS-7")
        return ds

    result = sync(store, Source(mis_sends_rooms))
    assert (result["inserted"], result["updated"], result["deleted"]) == (0, 0, 0)
    assert store.changes("s1", result["run"]) == []
    rooms = {t["id"]: t["room"] for t in store.export("s1", "teachers", {"teachers": {"room"}})}
    assert rooms == {"T1": "B12", "T2": None}
