"""Error pages: HTML (from the base template, with the same headers) for every route but the
JSON API's, which keeps FastAPI's JSON; a 500 shows and logs nothing of its exception."""

from __future__ import annotations

import logging

from mis_sync.core.web import content

from .conftest import csrf_of, login
from .html import text

SECRET = "Rowan Quillfeather born 2011-04-01"  # made up: what an exception might hold


def assert_error_page(answer, status: int, words: str) -> str:
    assert answer.status_code == status, answer.text[:300]
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    assert '<a href="/" id="back">Back to the fleet</a>' in answer.text
    shown = text(answer.text)
    assert f"{status}: {words}" in shown, shown
    assert "Traceback" not in answer.text
    return shown


def test_a_page_not_found_is_an_html_page_and_the_api_stays_json(web):
    op = login(web)
    assert "no such run" in assert_error_page(op.get("/runs/999"), 404, "Not found")
    assert "no such school" in assert_error_page(op.get("/schools/nowhere"), 404, "Not found")
    assert_error_page(op.get("/no/such/page"), 404, "Not found")
    assert op.get("/api/runs/999").json() == {"detail": "no such run"}
    assert op.get("/api/no/such/route").json() == {"detail": "Not Found"}


def test_a_forbidden_form_is_an_html_page(web):
    viewer = login(web, "viewer")
    page = viewer.get("/schools/demo-integris/data/teachers").text
    refused = viewer.post(
        "/schools/demo-integris/teachers/T12/room", data={"room": "B1", "csrf_token": csrf_of(page)}
    )
    assert "this needs the editor role" in assert_error_page(refused, 403, "Not allowed")
    op = login(web)
    forged = op.post("/schools/demo-integris/teachers/T12/room", data={"room": "B1"})
    assert "security token" in assert_error_page(forged, 403, "Not allowed")


def test_an_invalid_request_is_an_html_page_that_never_echoes_the_input(web):
    op = login(web)
    shown = assert_error_page(op.get("/runs/seven"), 422, "Not a valid request")
    assert "path.number" in shown
    assert_error_page(op.get("/runs/99999999999999"), 422, "Not a valid request")
    page = op.get("/schools/demo-integris/records").text
    too_long = SECRET * 10  # over the search box's 200 characters
    answer = op.post(
        "/schools/demo-integris/records", data={"q": too_long, "csrf_token": csrf_of(page)}
    )
    assert "body.q" in assert_error_page(answer, 422, "Not a valid request")
    assert "Quillfeather" not in answer.text
    api = op.get("/api/runs/seven")
    assert api.status_code == 422 and api.json()["detail"][0]["loc"] == ["path", "number"]


def test_a_server_error_shows_and_logs_nothing_of_its_exception(web, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError(SECRET)

    monkeypatch.setattr(content, "fleet", broken)
    caplog.set_level(logging.DEBUG)
    op = login(web)
    shown = assert_error_page(op.get("/"), 500, "Something went wrong")
    assert "Quillfeather" not in shown and "RuntimeError" not in shown
    api = op.get("/api/schools")
    assert (api.status_code, api.json()) == (500, {"detail": "internal error"})
    assert api.headers["cache-control"] == "no-store"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "internal error in GET /: RuntimeError" in logged
    assert "internal error in GET /api/schools: RuntimeError" in logged
    assert "Quillfeather" not in logged
