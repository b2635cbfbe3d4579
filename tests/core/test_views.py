"""The SQL views are the store's stable read interface: plain SQL on both databases sees the
canonical columns of what is kept, as `export` does."""

from __future__ import annotations

import json

from sqlalchemy import create_engine, text

from mis_sync.core.schema import export_fields
from mis_sync.core.store import views


def select(db_url: str, sql: str) -> list[dict]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(text(sql)).mappings()]
    finally:
        engine.dispose()


def test_each_entity_view_has_the_canonical_columns_and_the_kept_records(school, db_url):
    school.run()
    school("set", "teacher", "T40", "room", "B12")
    for view, (entity, _) in views.ENTITY_VIEWS.items():
        rows = select(db_url, f'SELECT * FROM "{view}" ORDER BY 2, 3')
        exported = school.json("export", entity)
        fields = export_fields(entity)
        assert [list(r) for r in rows[:1]] == [["school", *fields]] * bool(exported), view
        decoded = [
            {
                k: json.loads(v) if isinstance(v, str) and k in ("teachers", "student_ids") else v
                for k, v in r.items()
                if k != "school"
            }
            for r in rows
        ]
        for r in decoded:  # SQLite has no boolean type: 1/0
            if "parental_responsibility" in r:
                r["parental_responsibility"] = bool(r["parental_responsibility"])
        assert decoded == exported, view
        assert {r["school"] for r in rows} == {"demo-integris"}


def test_plain_sql_answers_a_data_managers_questions(school, db_url):
    school.run()
    assert select(
        db_url,
        "SELECT s.id, s.known_name, l.contact_id FROM students s"
        " JOIN contact_links l ON l.school = s.school AND l.student_id = s.id"
        " WHERE l.parental_responsibility ORDER BY l.contact_id",
    ) == [
        {"id": "4821", "known_name": "Amy", "contact_id": "9001-1"},
        {"id": "4821", "known_name": "Amy", "contact_id": "9001-2"},
        {"id": "4822", "known_name": "Ben", "contact_id": "9004"},
    ]
    assert select(
        db_url,
        "SELECT entity, id, rule FROM left_out_records WHERE entity = 'teachers' ORDER BY id",
    ) == [
        {"entity": "teachers", "id": "T50", "rule": "title is blank"},
        {"entity": "teachers", "id": "T60", "rule": "teaches no kept class"},
    ]
    [run] = select(db_url, "SELECT run, school, status, inserted, left_out, merged FROM sync_runs")
    assert run == {
        "run": 1,
        "school": "demo-integris",
        "status": "ok",
        "inserted": 17,
        "left_out": 6,
        "merged": 2,
    }


def test_deleted_records_leave_the_views(school, db_url):
    school.run()
    school.data["students"] = school.data["students"][:1]
    school.data["classes"][0]["StudentIDs"] = ["4821"]
    school.run()
    assert select(db_url, "SELECT id FROM students") == [{"id": "4821"}]
