"""Every page and API route through FastAPI's test client, on SQLite and PostgreSQL, over the
tiny school synced by the real pipeline (`demo-integris`, run 1) and a school whose run failed
(`elm`)."""

from __future__ import annotations

import csv
import io
import logging
import re
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from mis_sync.core.web import content

from .conftest import USERS, csrf_of, login
from .html import table, text

PAGES = [
    "/",
    "/schools/demo-integris",
    "/runs/1",
    "/schools/demo-integris/records",
    "/schools/demo-integris/records/students/4821",
    "/schools/demo-integris/data/students",
    "/schools/demo-integris/data/parents",
    "/schools/demo-integris/data/teachers",
    "/schools/demo-integris/data/parents.csv",
]
API = [
    "/api/schools",
    "/api/schools/demo-integris/runs",
    "/api/runs/1",
    "/api/runs/1/changes",
    "/api/schools/demo-integris/worklist",
    "/api/openapi.json",
]


def test_every_page_and_api_route_needs_a_login(web):
    anonymous = TestClient(web, follow_redirects=False)
    for url in PAGES:
        answer = anonymous.get(url)
        assert (answer.status_code, answer.headers["location"]) == (303, "/login"), url
    for url in API:
        assert anonymous.get(url).status_code == 401, url
    for url in (
        "/schools/demo-integris/teachers/T12/room",
        "/schools/demo-integris/duplicates/dismiss",
    ):
        assert anonymous.post(url, data={"room": "X", "a": "1", "b": "2"}).status_code in (
            303,
            403,
        )
    op = login(web)
    for url in PAGES + API:
        answer = op.get(url)
        assert answer.status_code == 200, (url, answer.text[:300])
        assert answer.headers["cache-control"] == "no-store", url
        assert "default-src 'none'" in answer.headers["content-security-policy"], url


def test_a_wrong_password_is_refused_and_basic_auth_serves_scripts(web):
    client = TestClient(web, follow_redirects=False)
    page = client.get("/login")
    answer = client.post(
        "/login", data={"user": "op", "password": "wrong", "csrf_token": csrf_of(page.text)}
    )
    assert answer.status_code == 401
    assert "wrong user name or password" in answer.text
    assert client.get("/").status_code == 303
    assert client.get("/api/schools", auth=("op", "wrong")).status_code == 401
    assert client.get("/api/schools", auth=("nobody", "x")).status_code == 401
    from .conftest import PASSWORD

    assert client.get("/api/schools", auth=("viewer", PASSWORD)).status_code == 200


def test_login_without_its_csrf_token_is_refused(web):
    client = TestClient(web, follow_redirects=False)
    client.get("/login")
    from .conftest import PASSWORD

    answer = client.post("/login", data={"user": "op", "password": PASSWORD})
    assert answer.status_code == 403
    assert client.get("/").status_code == 303


def test_the_fleet_lists_failed_first_with_last_runs_and_stale_schools(web):
    html = login(web).get("/").text
    rows = table(html, "fleet")
    assert [r[0] for r in rows[1:]] == ["elm", "demo-integris"]
    elm, demo = rows[1], rows[2]
    assert elm[2:4] == ["run 2", "failed stale"]  # never a successful run: stale
    run1 = web.state.store.runs("demo-integris")[0]
    assert demo[2:4] == ["run 1", "ok"]
    assert demo[6:10] == [str(run1[k]) for k in ("inserted", "updated", "deleted", "left_out")]
    assert demo[10] == run1["finished"]
    assert 'aria-label="students: 2 now' in html  # the sparkline of kept students


def test_a_school_unsynced_for_more_than_a_day_is_stale(web):
    user = USERS["op"]
    store = web.state.store
    assert not next(r for r in content.fleet(store, user) if r["school"] == "demo-integris")[
        "stale"
    ]
    later = datetime.now(UTC) + timedelta(days=1, minutes=1)
    assert next(r for r in content.fleet(store, user, later) if r["school"] == "demo-integris")[
        "stale"
    ]


def test_the_school_page_shows_counts_runs_worklist_duplicates_and_sso(web):
    store = web.state.store
    html = login(web).get("/schools/demo-integris").text
    counts = table(html, "counts")
    assert dict(zip(counts[0], counts[1], strict=True)) == {
        k: str(v) for k, v in store.entity_counts("demo-integris").items()
    }
    assert counts[1][0] == "2"  # students 4821 and 4822 kept, 4823 left out
    assert [r[0] for r in table(html, "runs")[1:]] == ["1"]
    page = text(html)
    assert "students: in no kept class (1)" in page
    assert "put pupil 4823 in a registration group or teaching set" in page
    assert table(html, "duplicates")[1][:3] == ["9002", "9004", "same email"]
    sso = {(r[0], r[1]): r[3] for r in table(html, "sso")[1:]}
    assert sso[("teachers", "T12")] == "several addresses in one field"
    assert '<svg class="chart"' in html


def test_the_run_page_filters_and_shows_set_style_list_diffs(web):
    school = web.state.school
    school.data["classes"][0]["StudentIDs"] = ["4821"]  # 4822 leaves 7A
    school.data["classes"][1]["StudentIDs"] = ["4821", "4822"]
    school.run()
    op = login(web)
    run = web.state.store.runs("demo-integris")[0]["run"]
    rows = table(op.get(f"/runs/{run}").text, "changes")
    assert ["classes", "C77", "update", "student_ids: -4822"] in rows
    assert ["classes", "C91", "update", "student_ids: +4822"] in rows
    only = table(op.get(f"/runs/{run}?entity=classes&id=C91").text, "changes")
    assert only[1:] == [["classes", "C91", "update", "student_ids: +4822"]]
    inserts = table(op.get("/runs/1?entity=students&op=insert").text, "changes")
    assert [r[1] for r in inserts[1:]] == ["4821", "4822"]
    assert op.get("/runs/1?op=explode").status_code == 404


def test_a_stopped_run_shows_its_message_and_the_command_to_allow_it(web):
    store = web.state.store
    run = store.start_run("demo-integris", "integris")
    message = "stopped before writing: this run would delete 40 of 50 students"
    store.fail_run(run, "stopped", message)
    html = login(web).get(f"/runs/{run}").text
    assert message in text(html)
    assert "mis-sync run integris --school demo-integris --allow-mass-delete" in html
    assert "mis-sync run integris --school demo-integris --dry-run --json" in html
    rows = table(login(web).get("/").text, "fleet")
    assert [r[0] for r in rows[1:]] == ["elm", "demo-integris"]  # failed, then stopped
    assert rows[2][3] == "stopped"


def stopped_run(store, students: int = 120) -> int:
    """A run the safeguard stopped, with the keys it would have deleted (as fail_run keeps
    them when the pipeline stops a run)."""
    run = store.start_run("demo-integris", "integris")
    keys = [("students", f"7{n:03}") for n in range(students)] + [("contacts", "9001-1")]
    message = f"stopped before writing: this run would delete {students} of 130 students"
    store.fail_run(run, "stopped", message, would_delete=keys)
    return run


def test_a_stopped_run_shows_what_it_would_have_deleted_grouped_and_capped(web):
    run = stopped_run(web.state.store)
    op = login(web)
    html = op.get(f"/runs/{run}").text
    shown = text(html)
    assert "What it would have deleted" in shown
    assert "students: 120" in shown and "contacts: 1" in shown
    assert (
        f"and 20 more: mis-sync changes --school demo-integris --run {run} --entity students"
        " --limit 120 lists them all" in shown
    )
    listed = re.findall(r'href="/schools/demo-integris/records/students/(\w+)"', html)
    assert listed == [f"7{n:03}" for n in range(content.WOULD_DELETE_SHOWN)]
    assert 'href="/schools/demo-integris/records/contacts/9001-1"' in html
    assert "mis-sync run integris --school demo-integris --allow-mass-delete" in html
    only = text(op.get(f"/runs/{run}?entity=contacts").text)
    assert "contacts: 1" in only and "students: 120" not in only

    body = op.get(f"/api/runs/{run}").json()
    assert (body["status"], body["run"]) == ("stopped", run)
    assert body["would_delete"]["students"]["count"] == 120
    assert body["would_delete"]["students"]["ids"] == [f"7{n:03}" for n in range(120)]
    assert body["would_delete"]["contacts"] == {"count": 1, "ids": ["9001-1"]}
    capped = op.get(f"/api/runs/{run}?limit=5").json()["would_delete"]["students"]
    assert (capped["count"], len(capped["ids"])) == (120, 5)
    assert op.get("/api/runs/1").json()["would_delete"] == {}  # a successful run
    assert login(web, "elm-dm").get(f"/api/runs/{run}").status_code == 404


def test_a_run_stopped_before_the_store_kept_its_list_says_so(web):
    store = web.state.store
    run = store.start_run("demo-integris", "integris")
    store.fail_run(run, "stopped", "stopped before writing: this run would delete 40 of 50")
    shown = text(login(web).get(f"/runs/{run}").text)
    assert "The store kept no list of what this run would have deleted" in shown
    assert "What it would have deleted" not in shown


def test_record_search_by_name_is_a_post_and_finds_by_id_too(web, caplog):
    caplog.set_level(logging.DEBUG)
    op = login(web)
    page = op.get("/schools/demo-integris/records").text
    assert 'method="post"' in page
    found = op.post(
        "/schools/demo-integris/records", data={"q": "rowan", "csrf_token": csrf_of(page)}
    )
    rows = table(found.text, "found")
    assert [(r[0], r[1]) for r in rows[1:]] == [
        ("students", "4821"),
        ("contacts", "9001-1"),
        ("contacts", "9001-2"),
    ]
    by_id = op.post(
        "/schools/demo-integris/records", data={"q": "T12", "csrf_token": csrf_of(page)}
    )
    assert [r[1] for r in table(by_id.text, "found")[1:]] == ["T12"]
    assert "rowan" not in caplog.text.casefold()  # a searched name is never logged


def test_the_record_page_shows_fields_history_and_explain(web):
    op = login(web)
    kept = op.get("/schools/demo-integris/records/students/4821").text
    fields = dict(r[:2] for r in table(kept, "fields"))
    assert fields["surname"] == "Rowan" and fields["known_name"] == "Amy"
    assert table(kept, "history")[1][:2] == ["1", "insert"]
    assert text(kept).count("kept") >= 1
    out = op.get("/schools/demo-integris/records/students/4823").text
    assert "Never stored." in out
    assert "in no kept class" in text(out) and "because class C99 left out" in text(out)
    assert op.get("/schools/demo-integris/records/pupils/4821").status_code == 404


def test_data_pages_show_what_the_store_holds(web):
    store = web.state.store
    op = login(web)
    students = table(op.get("/schools/demo-integris/data/students").text, "data")
    assert [r[0] for r in students[1:]] == [
        s["id"] for s in store.export("demo-integris", "students", {})
    ]
    parents = table(op.get("/schools/demo-integris/data/parents").text, "data")
    assert [r[0] for r in parents[1:]] == [p["id"] for p in store.export_parents("demo-integris")]
    assert op.get("/schools/demo-integris/data/classes").status_code == 404


def test_export_parents_csv_is_what_the_cli_writes(web):
    school = web.state.school
    answer = login(web).get("/schools/demo-integris/data/parents.csv")
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    cli = school("export", "parents", "--school", "demo-integris", "--format", "csv")
    assert cli.exit_code == 0, cli.stderr
    assert answer.text == cli.stdout
    assert list(csv.DictReader(io.StringIO(answer.text)))[0]["id"] == "9001-1"


def _room(store, rid):
    teachers = store.export("demo-integris", "teachers", {"teachers": {"room"}})
    return next(t for t in teachers if t["id"] == rid)["room"]


def test_an_editor_sets_a_teachers_room_with_the_form(web):
    op = login(web)
    page = op.get("/schools/demo-integris/data/teachers").text
    answer = op.post(
        "/schools/demo-integris/teachers/T12/room",
        data={"room": "B12", "csrf_token": csrf_of(page)},
    )
    assert answer.status_code == 303
    assert _room(web.state.store, "T12") == "B12"
    # audited as the dashboard's user made it (issue 19's local events)
    [edit] = [c for c in web.state.store.changes("demo-integris", 1) if c["op"] == "local"]
    assert (edit["id"], edit["changes"], edit["who"]) == ("T12", {"room": [None, "B12"]}, "web:op")
    again = op.get("/schools/demo-integris/data/teachers").text
    assert 'value="B12"' in again
    unknown = op.post(
        "/schools/demo-integris/teachers/T99/room",
        data={"room": "B1", "csrf_token": csrf_of(again)},
    )
    assert unknown.status_code == 404


def test_setting_a_room_needs_the_csrf_token_and_the_editor_role(web):
    op = login(web)
    op.get("/schools/demo-integris/data/teachers")
    no_token = op.post("/schools/demo-integris/teachers/T12/room", data={"room": "X1"})
    assert no_token.status_code == 403
    forged = op.post(
        "/schools/demo-integris/teachers/T12/room", data={"room": "X1", "csrf_token": "x"}
    )
    assert forged.status_code == 403
    viewer = login(web, "viewer")
    page = viewer.get("/schools/demo-integris/data/teachers").text
    assert 'name="room"' not in page
    refused = viewer.post(
        "/schools/demo-integris/teachers/T12/room", data={"room": "X1", "csrf_token": csrf_of(page)}
    )
    assert refused.status_code == 403
    assert _room(web.state.store, "T12") is None


def test_an_editor_dismisses_a_near_duplicate(web):
    op = login(web)
    page = op.get("/schools/demo-integris").text
    answer = op.post(
        "/schools/demo-integris/duplicates/dismiss",
        data={"a": "9002", "b": "9004", "csrf_token": csrf_of(page)},
    )
    assert answer.status_code == 303
    assert web.state.store.duplicates("demo-integris") == []
    assert table(op.get("/schools/demo-integris").text, "duplicates") == []


OTHER_SCHOOL = [
    "/schools/demo-integris",
    "/runs/1",
    "/schools/demo-integris/records",
    "/schools/demo-integris/records/students/4821",
    "/schools/demo-integris/data/parents",
    "/schools/demo-integris/data/parents.csv",
    "/api/schools/demo-integris/runs",
    "/api/runs/1/changes",
    "/api/schools/demo-integris/worklist",
    "/api/runs/1",
    "/schools/nowhere",
    "/runs/999",
]


def test_a_school_scoped_user_gets_404_for_another_school(web):
    """Not 403: a data manager is not told which other schools exist (docs/dashboard.md)."""
    dm = login(web, "elm-dm")
    for url in OTHER_SCHOOL:
        answer = dm.get(url)
        assert answer.status_code == 404, url
        assert "Rowan" not in answer.text


def test_a_school_scoped_user_sees_and_changes_only_their_school(web):
    dm = login(web, "elm-dm")
    assert [r[0] for r in table(dm.get("/").text, "fleet")[1:]] == ["elm"]
    assert [s["school"] for s in dm.get("/api/schools").json()] == ["elm"]
    assert dm.get("/schools/elm").status_code == 200
    assert dm.get("/runs/2").status_code == 200
    page = dm.get("/schools/elm/data/teachers").text
    refused = dm.post(
        "/schools/demo-integris/teachers/T12/room", data={"room": "Z9", "csrf_token": csrf_of(page)}
    )
    assert refused.status_code == 404
    assert _room(web.state.store, "T12") is None


def test_names_with_markup_are_text(web):
    school = web.state.school
    school.data["staff"][0]["Surname"] = "<script>alert(1)</script>"
    school.run()
    op = login(web)
    for url in (
        "/schools/demo-integris/data/teachers",
        "/schools/demo-integris/records/teachers/T12",
    ):
        html = op.get(url).text
        assert "<script>" not in html, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, url
    run = web.state.store.runs("demo-integris")[0]["run"]
    assert "<script>" not in op.get(f"/runs/{run}").text


def test_the_api_gives_the_cli_json_shapes(web):
    school = web.state.school
    op = login(web)
    assert op.get("/api/schools/demo-integris/runs").json() == school.json(
        "runs", "--school", "demo-integris"
    )
    changes = op.get("/api/runs/1/changes?entity=students").json()
    assert changes == school.json(
        "changes", "--school", "demo-integris", "--run", "1", "--entity", "students"
    )
    worklist = op.get("/api/schools/demo-integris/worklist").json()
    cli = school.json("left-out", "--school", "demo-integris")
    assert [{k: r[k] for k in cli[0]} for r in worklist["records"]] == cli
    assert op.get("/api/runs/1/changes?op=explode").status_code == 422
    schema = op.get("/api/openapi.json").json()
    assert set(schema["paths"]) == {
        "/api/schools",
        "/api/schools/{key}/runs",
        "/api/runs/{number}",
        "/api/runs/{number}/changes",
        "/api/schools/{key}/worklist",
    }
