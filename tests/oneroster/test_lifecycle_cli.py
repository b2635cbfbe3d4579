"""`purge`, `forget`, `export-person` and the audit of `set`, through the CLI (operations.md),
on a OneRoster school: the connector that keeps a source state, which a forget must drop."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine

from mis_sync.core.store.lifecycle import os_user

from ..core.stored import stored_text
from .support import N, delta, school, write, write_config
from .support import cli as run_cli


@pytest.fixture
def synced(tmp_path, db_url, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MIS_SYNC_CONFIG", raising=False)
    write_config(tmp_path, db_url, write(tmp_path / "x", school()))
    result = run_cli("run", "oneroster")
    assert result.exit_code == 0, result.stderr
    return tmp_path


def out(result, code=0):
    assert result.exit_code == code, result.stderr
    return result.stdout


def test_set_is_audited_and_changes_shows_who_and_when(synced):
    out(run_cli("set", "teacher", "t1", "room", "B12"))
    [local] = [c for c in json.loads(out(run_cli("changes", "--json"))) if c["op"] == "local"]
    assert local["changes"] == {"room": [None, "B12"]} and local["who"] == os_user()
    assert local["when"].endswith("Z")
    assert os_user() in out(run_cli("changes"))


def test_forget_asks_for_yes_then_erases_and_says_the_next_run_brings_it_back(synced, db_url):
    refused = run_cli("forget", "students", "s1")
    assert refused.exit_code == 2 and "pass --yes" in refused.stderr
    assert json.loads(out(run_cli("export-person", "students", "s1")))["records"]

    done = out(run_cli("forget", "students", "s1", "--yes"))
    assert "oak: students s1 forgotten" in done
    assert "the next run stores it again" in done
    assert "removed from the connector's copy of its source too" in done
    given, family = N[0]
    text = stored_text(create_engine(db_url))  # the source state is searched decompressed
    assert given not in text and family not in text and "Valley District" in text
    exported = out(run_cli("export", "students", "--json"))
    assert family not in exported and "s1" not in json.dumps(json.loads(exported))
    # what is left is the record of the erasure, and what happened without the values
    left = json.loads(out(run_cli("export-person", "students", "s1")))
    assert left["records"] == [] and given not in json.dumps(left)
    assert [e["op"] for e in left["events"]][-2:] == ["forget", "forget"]
    again = run_cli("forget", "students", "s1", "--yes")
    assert again.exit_code == 2 and again.stderr.count("\n") == 1
    assert "nothing is stored about students 's1'" in again.stderr
    unknown = run_cli("export-person", "students", "nobody")
    assert unknown.exit_code == 2 and "nothing is stored about students 'nobody'" in unknown.stderr


def test_export_person_writes_everything_as_json_to_a_file(synced):
    out(run_cli("export-person", "contacts", "p1", "-o", "p1.json"))
    answer = json.loads((synced / "p1.json").read_text())
    assert answer["entity"] == "contacts" and answer["id"] == "p1"
    assert {(r["entity"], r["id"]) for r in answer["records"]} == {
        ("contacts", "p1"),
        ("contact-links", "s1:p1"),
    }
    assert [e["op"] for e in answer["events"]] == ["insert", "insert"]


def test_purge_says_what_it_would_do_and_what_it_did(synced):
    dry = out(run_cli("purge", "--dry-run"))
    assert dry.startswith("oak: would purge 0 records no longer kept since before")
    done = json.loads(out(run_cli("purge", "--json")))
    assert done[0]["school"] == "oak" and done[0]["records"] == 0
    one = json.loads(out(run_cli("purge", "--school", "oak", "--json")))
    assert one["school"] == "oak"
    unknown = run_cli("purge", "--school", "elm")
    assert unknown.exit_code == 2 and "no school 'elm'" in unknown.stderr


def test_purge_and_forget_wait_for_no_run_they_say_the_school_is_busy(synced, db_url):
    from mis_sync.core.store import Store

    store = Store(db_url)
    try:
        with store.lock("oak"):
            for args in (["purge"], ["forget", "students", "s1", "--yes"]):
                busy = run_cli(*args)
                assert busy.exit_code == 4 and "another run holds it" in busy.stderr, args
    finally:
        store.close()
    assert json.loads(out(run_cli("export-person", "students", "s1")))["records"]


def test_after_a_forget_a_delta_still_applies_and_only_a_resent_row_brings_them_back(
    synced, db_url
):
    out(run_cli("forget", "students", "s2", "--yes"))
    from mis_sync.connectors.oneroster import state
    from mis_sync.core.store import Store

    store = Store(db_url)
    picture = state.load(store.source_state("oak", "oneroster"), "sch-oak")
    store.close()
    assert "s2" not in picture.users and "s2" not in picture.demographics
    assert [e for e in picture.enrollments.values() if e.user == "s2"] == []
    absent = {name: None for name in ("academicSessions", "classes", "enrollments", "orgs")}
    absent |= {"demographics": None}
    teacher = [u for u in school()["users"] if u["sourcedId"] == "t1"][0]
    renamed = delta([{**teacher, "familyName": "Zqrenamed"}])
    write(synced / "x", {**absent, "users": renamed}, modes={"users": "delta"})
    after = json.loads(out(run_cli("run", "oneroster", "--json")))
    assert after["status"] == "ok"  # no "sync a bulk export first": the state was kept
    changes = {(c["entity"], c["id"]): c for c in json.loads(out(run_cli("changes", "--json")))}
    assert changes.pop(("teachers", "t1"))["changes"] == {"surname": [N[3][1], "Zqrenamed"]}
    # the picture no longer has the pupil: their ID leaves the lists, their only guardian goes
    assert {k: c["op"] for k, c in changes.items()} == {
        ("classes", "c-7a"): "update",
        ("groups", "grade-07"): "update",
        ("contacts", "g1"): "delete",
    }
    ids = [s["id"] for s in json.loads(out(run_cli("export", "students", "--json")))]
    assert ids == ["s1"]
    write(synced / "x", school())  # a bulk export that still sends them
    out(run_cli("run", "oneroster"))
    ids = [s["id"] for s in json.loads(out(run_cli("export", "students", "--json")))]
    assert ids == ["s1", "s2"]
