"""A hostile Datashare on loopback (connectors/integris/hostile.py): every run ends, bounded in
pages, records, bytes and time, with one line naming resource and page, exit 1, and nothing
stored. Caps and deadlines are made small here so each test takes a second or two; the
timeout marks turn a guard that stops working into a failure rather than a hang."""

from __future__ import annotations

import json
import time

import pytest

from mis_sync.connectors.integris.fake import serve
from mis_sync.connectors.integris.hostile import HostileDatashare
from mis_sync.core.errors import SourceError

from .support import cli, fake, small, sync, write_config


@pytest.fixture
def school(tmp_path, db_url):
    """A clean first run, then `hostile(**behaviour)` runs `mis-sync run` against a hostile
    server; `stored()` is the students export, to show that nothing changed."""

    def stored() -> list:
        return json.loads(
            cli("--config", str(tmp_path / "mis-sync.toml"), "export", "students", "--json").stdout
        )

    def hostile(data=None, options=None, args=(), **behaviour):
        server = HostileDatashare(fake(data), **behaviour)
        with serve(server) as base_url:
            path = write_config(tmp_path, db_url, base_url, **(options or {}))
            started = time.monotonic()
            result = cli("--config", str(path), "run", "integris", *args)
            result.seconds = time.monotonic() - started
        assert "Traceback" not in result.stderr
        return result, server

    with serve(fake()) as base_url:
        write_config(tmp_path, db_url, base_url)
        first = cli("--config", str(tmp_path / "mis-sync.toml"), "run", "integris")
    assert first.exit_code == 0, first.stderr
    hostile.stored = stored
    hostile.before = stored()
    return hostile


def changed() -> dict:
    """The school with every surname changed: a run that stored anything would show it."""
    return small(
        students=[dict(s, Surname=f"Changed{i}") for i, s in enumerate(small()["students"])]
    )


def five_students() -> dict:
    students = [dict(small()["students"][0], StudentID=str(5000 + i)) for i in range(5)]
    regs = [dict(small()["classes"][0], StudentIDs=[s["StudentID"] for s in students])]
    return small(students=students, classes=regs)


def error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.timeout(15)
def test_an_endless_cursor_stops_at_the_page_cap(school):
    result, server = school(changed(), {"max_pages": 5}, endless="same", total=None)
    assert result.exit_code == 1
    assert error_line(result) == (
        "mis-sync: error: students page 5: the source sends a next_cursor past max_pages = 5;"
        " stopped, nothing stored"
    )
    assert server.pages == 5
    assert school.stored() == school.before


@pytest.mark.timeout(15)
def test_an_endless_cursor_with_new_records_stops_at_the_record_cap(school):
    result, server = school(changed(), {"max_records": 7}, endless="new", total=None)
    assert result.exit_code == 1
    assert "students page 4: more than max_records = 7 records; stopped" in error_line(result)
    assert server.pages == 4
    assert school.stored() == school.before


@pytest.mark.timeout(15)
def test_an_endless_cursor_stops_when_the_records_pass_meta_total(school):
    result, server = school(changed(), endless="same")
    assert result.exit_code == 1
    assert "students page 2: 4 records fetched, more than the 2 of meta.total" in result.stderr
    assert server.pages == 2
    assert school.stored() == school.before


def test_a_total_that_changes_between_pages_fails_the_run(school):
    result, _ = school(five_students(), {"page_limit": 2}, total="drift")
    assert result.exit_code == 1
    assert "students page 2: meta.total changed from 6 to 7 while the pages were read" in (
        result.stderr
    )
    assert school.stored() == school.before


def test_a_total_the_records_fall_short_of_fails_the_run(school):
    result, _ = school(changed(), total=99)
    assert result.exit_code == 1
    assert (
        "students page 1: 2 records fetched, but meta.total said 99; the list moved"
        in result.stderr
    )
    assert school.stored() == school.before


@pytest.mark.parametrize("total", [99, "drift"])
def test_a_moving_total_is_transient_so_a_worker_tries_again(store, total):
    """Transient is what tasks.py retries: the next run may find the list still."""
    server = HostileDatashare(fake(five_students()), total=total)
    with pytest.raises(SourceError) as failed:
        sync(store, server_app(server), options={"page_limit": 2})
    assert failed.value.transient
    assert store.runs("oak")[0]["status"] == "failed"


def test_a_total_that_is_not_sent_is_not_checked(school):
    result, _ = school(changed(), total=None)
    assert result.exit_code == 0, result.stderr


@pytest.mark.timeout(10)
def test_a_trickled_body_stops_at_the_request_deadline(school):
    result, _ = school(changed(), {"request_deadline": 0.5}, trickle=0.01, endless_body=True)
    assert result.exit_code == 1
    assert error_line(result) == (
        "mis-sync: error: students page 1: the response took longer than request_deadline ="
        " 0.5s; stopped, nothing stored"
    )
    assert result.seconds < 5
    assert school.stored() == school.before


@pytest.mark.timeout(10)
def test_a_slow_endless_source_stops_at_the_run_deadline(school):
    result, server = school(changed(), {"run_deadline": 0.6}, endless="new", total=None, delay=0.05)
    assert result.exit_code == 1
    assert "the run passed run_deadline = 0.6s before the source had sent everything" in (
        error_line(result)
    )
    assert "students page" in result.stderr
    assert result.seconds < 5
    assert server.pages >= 3
    assert school.stored() == school.before


@pytest.mark.timeout(15)
def test_a_gzip_bomb_stops_at_the_decoded_size_cap(school):
    result, _ = school(changed(), {"max_response_mb": 1}, gzip_bomb=8 * 1024 * 1024)
    assert result.exit_code == 1
    assert error_line(result) == (
        "mis-sync: error: students page 1: the response is larger than max_response_mb = 1"
        " once decoded; stopped reading, nothing stored"
    )
    assert school.stored() == school.before


def test_a_gzip_page_under_the_cap_is_read(school):
    result, _ = school(changed(), gzip_bomb=1024 * 1024)
    assert result.exit_code == 0, result.stderr


def after_a_bad_record() -> dict:
    """A bad record before the deep one: the page is then read record by record."""
    students = small()["students"]
    return small(students=[dict(students[0], DateOfBirth="not a date"), students[1]])


@pytest.mark.timeout(15)
@pytest.mark.parametrize("data", [changed, after_a_bad_record])
def test_a_record_nested_100000_levels_deep_fails_its_page_not_the_process(school, data):
    result, _ = school(data(), nested=100_000)
    assert result.exit_code == 1
    assert error_line(result) == (
        "mis-sync: error: students page 1: a record is nested too deeply to read (JSON arrays"
        " or objects over about 1000 levels); nothing stored"
    )
    assert "RecursionError" not in result.stderr + result.stdout
    assert school.stored() == school.before


def server_app(hostile: HostileDatashare):
    """The hostile app in-process: `sync` wants something with a transport()."""
    import httpx

    class InProcess:
        def transport(self):
            return httpx.WSGITransport(app=hostile)

    return InProcess()
