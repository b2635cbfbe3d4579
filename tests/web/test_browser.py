"""The dashboard in a real headless Chromium (Debian's `chromium`, driven by Playwright; never
`playwright install`): log in, follow a failed school to its run, set a teacher's room,
download Export Parents, and check the pages show what the store holds.

SQLite only: these check what a browser does with the pages; the same pages are tested on
both databases in test_pages.py. Each page a test sees is saved as a screenshot under the
test's tmp_path, and the last one at teardown, so a failure shows where it stopped. With
MIS_SYNC_SCREENSHOTS=DIR the pages are also saved there (how docs/dashboard/*.png are made).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from .conftest import PASSWORD

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# resolved now: the tiny school's fixture changes the working folder
SHOTS = (
    Path(os.environ["MIS_SYNC_SCREENSHOTS"]).resolve()
    if "MIS_SYNC_SCREENSHOTS" in os.environ
    else None
)
# the pages docs/dashboard.md shows
DOCS = {"fleet", "school", "run", "stopped", "teachers", "parents"}
pytestmark = [
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Debian's chromium (.ci/run installs)"),
    pytest.mark.parametrize("db_url", ["sqlite"], indirect=True),
]


@pytest.fixture
def served(web):
    """The app on 127.0.0.1, on a port the system picks, in a thread of this process."""
    server = uvicorn.Server(
        uvicorn.Config(web, host="127.0.0.1", port=0, access_log=False, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)


@pytest.fixture
def page(served, tmp_path):
    from playwright.sync_api import sync_playwright

    shots = SHOTS
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(
            accept_downloads=True, viewport={"width": 1200, "height": 800}
        )
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.base = served
        seen: list[str] = []

        def snap(name: str) -> None:
            seen.append(name)
            page.screenshot(path=tmp_path / f"{len(seen):02d}-{name}.png", full_page=True)
            if shots is not None and name in DOCS:
                shots.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=shots / f"{name}.png")

        page.snap = snap
        yield page
        page.screenshot(path=tmp_path / "last.png", full_page=True)  # where a failure stopped
        context.close()
        browser.close()


def _log_in(page) -> None:
    page.goto(page.base + "/")
    assert page.url.endswith("/login")
    page.snap("login")
    page.fill("input[name=user]", "op")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(page.base + "/")


def test_log_in_and_follow_a_failed_school_to_its_run(page, web):
    _log_in(page)
    page.snap("fleet")
    rows = page.locator("#fleet tbody tr")
    assert rows.nth(0).get_attribute("data-school") == "elm"  # failed first
    demo = web.state.store.runs("demo-integris")[0]
    cells = page.locator("#fleet tr[data-school=demo-integris] td").all_inner_texts()
    assert cells[6:10] == [str(demo[k]) for k in ("inserted", "updated", "deleted", "left_out")]
    rows.nth(0).locator("a", has_text="elm").click()
    page.wait_for_url(page.base + "/schools/elm")
    page.snap("school-failed")
    page.locator("#runs a", has_text="2").click()
    page.wait_for_url(page.base + "/runs/2")
    assert page.inner_text("#run-status") == "failed"
    assert "HTTP 503" in page.inner_text("#run-message")
    page.goto(page.base + "/schools/demo-integris")
    page.snap("school")
    counts = web.state.store.entity_counts("demo-integris")
    assert page.inner_text("#counts td[data-entity=students]") == str(counts["students"])
    page.goto(page.base + "/runs/1?entity=students")
    page.snap("run")
    ids = page.locator("#changes tbody tr td:nth-child(2)").all_inner_texts()
    assert ids == ["4821", "4822"]


def test_set_a_teachers_room_and_download_export_parents(page, web, tmp_path):
    store = web.state.store
    _log_in(page)
    page.goto(page.base + "/schools/demo-integris/data/teachers")
    row = page.locator("#data tr[data-id=T12]")
    row.locator("input[name=room]").fill("B12")
    row.locator("button").click()
    page.wait_for_url(page.base + "/schools/demo-integris/data/teachers")
    page.snap("teachers")
    assert page.locator("#data tr[data-id=T12] input[name=room]").input_value() == "B12"
    teachers = store.export("demo-integris", "teachers", {"teachers": {"room"}})
    assert next(t for t in teachers if t["id"] == "T12")["room"] == "B12"
    page.goto(page.base + "/schools/demo-integris/data/parents")
    page.snap("parents")
    with page.expect_download() as download:
        page.click("#export-parents")
    saved = tmp_path / "parents.csv"
    download.value.save_as(saved)
    cli = web.state.school("export", "parents", "--school", "demo-integris", "--format", "csv")
    assert saved.read_text(encoding="utf-8") == cli.stdout
    ids = page.locator("#data tbody tr").evaluate_all("rows => rows.map(r => r.dataset.id)")
    assert ids == [p["id"] for p in store.export_parents("demo-integris")]


def test_a_stopped_run_shows_what_it_would_have_deleted(page, web):
    from .test_pages import stopped_run

    store = web.state.store
    run = stopped_run(store)
    _log_in(page)
    page.goto(f"{page.base}/runs/{run}")
    page.snap("stopped")
    assert page.inner_text("#run-status") == "stopped"
    students = page.locator("#would-delete-students")
    assert students.locator(".count").inner_text() == "120"
    listed = students.locator("ul.ids li").all_inner_texts()
    held = store.would_delete(run, per_entity=len(listed))["students"]["ids"]
    assert listed == held and len(listed) == 100
    assert "and 20 more" in students.locator(".more").inner_text()
    assert page.locator("#would-delete-contacts li").all_inner_texts() == ["9001-1"]
    assert "--allow-mass-delete" in page.inner_text("#allow")
    students.locator("a", has_text="7005").click()  # each ID leads to its record
    page.wait_for_url(f"{page.base}/schools/demo-integris/records/students/7005")
