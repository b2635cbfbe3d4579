"""Recorded Datashare sessions replayed through `mis-sync run` by pytest-recording's `vcr`
marker, in its default record mode "none": no test can reach a network, and a request the
cassette does not hold fails the test. Re-record with `python -m tests.integris.record_cassettes`
(docs/connectors/integris.md, "Recording cassettes").

The cassettes were recorded from our fake Datashare, so they prove replay, not the real API;
the rules are checked on the replayed data, read from the cassette itself, so a cassette
recorded from a real Datashare is checked the same way.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from mis_sync.connectors.integris.wire import PERSONAL_FIELDS
from mis_sync.core import cassettes

from .support import SECRET, cli, write_config

FOLDER = Path(__file__).resolve().parents[1] / "cassettes" / "integris"


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(FOLDER)


@pytest.fixture(scope="module")
def vcr_config() -> dict:
    """The scrubbing config every cassette is recorded with (core/cassettes.py)."""
    return cassettes.vcr_config(personal=PERSONAL_FIELDS)


@pytest.fixture
def replay(tmp_path, db_url, monkeypatch):
    """`mis-sync ARGS` against the replay address; the test's cassette answers."""
    monkeypatch.setattr("mis_sync.core.http.time.sleep", lambda seconds: None)
    config = write_config(tmp_path, db_url, cassettes.REPLAY_URL, page_limit=50)

    def run(*args: str):
        return cli("--config", str(config), *args)

    run.config = str(config)
    return run


def sent(name: str, resource: str) -> dict[str, dict]:
    """The records of `resource` the cassette's Datashare sent, by ID (the last page wins)."""
    key = {"contacts": "ContactID", "classes": "ClassID"}[resource]
    out = {}
    for interaction in yaml.safe_load((FOLDER / name).read_text())["interactions"]:
        if f"/{resource}?" in interaction["request"]["uri"]:
            body = json.loads(interaction["response"]["body"]["string"])
            out.update({r[key]: r for r in body.get("data", [])})
    return out


def two(value: str | None) -> list[str]:
    """A field naming two people ("Mr and Mrs", "Mr & Mr") in its two parts, else itself."""
    parts = re.split(r"\s+(?:and|&)\s+", value.strip(), flags=re.I) if value else [value]
    return parts if len(parts) == 2 else [value.strip() if value else value]


def export(replay, entity: str) -> dict:
    rows = json.loads(replay("export", entity, "--json").stdout)
    return {r.get("id") or (r["student_id"], r["contact_id"]): r for r in rows}


def explain(replay, entity: str, rid: str) -> list[str]:
    return json.loads(replay("explain", entity, rid, "--json").stdout)["reasons"]


def check_rules(replay, cassette: str) -> None:
    """sync-rules.md (Integris) on what the cassette's Datashare sent."""
    contacts, links = export(replay, "contacts"), export(replay, "contact-links")
    # a combined contact is split: titles and forenames in order, links to both halves
    combined = [c for c in sent(cassette, "contacts").values() if len(two(c["Title"])) == 2]
    assert len(combined) >= 2  # "Mr and Mrs" with two forenames, "Mr & Mr" with one
    for c in combined:
        cid, parts = c["ContactID"], [two(c[f]) for f in ("Title", "Forename", "Surname")]
        people = [tuple(p[n] for p in parts) for n in (0, -1)]
        if people[0][0].casefold() == people[1][0].casefold() and len(parts[1]) == 1:
            # two people the MIS cannot tell apart are one by the duplicate rule
            assert explain(replay, "contacts", f"{cid}-2") == [
                "duplicate contact",
                f"merged into contact {cid}-1 (same title, names and email: both halves of"
                f" combined contact {cid})",
            ]
            people = people[:1]
        halves = [contacts[f"{cid}-{n + 1}"] for n in range(len(people))]
        assert [(h["title"], h["forename"], h["surname"]) for h in halves] == people, (c, halves)
        assert {h["split_from"] for h in halves} == {cid} and cid not in contacts
        pupils = [{s for s, k in links if k == h["id"]} for h in halves]
        assert pupils[0] and all(p == pupils[0] for p in pupils)
    # every contact and link has priority 1
    assert {c["priority"] for c in contacts.values()} == {1}
    assert {lk["priority"] for lk in links.values()} == {1}
    # a registration class's main teacher is StaffID1 when StaffID1 is kept
    teachers, classes = export(replay, "teachers"), export(replay, "classes")
    registration = {
        cid: c for cid, c in sent(cassette, "classes").items() if c["Type"] == "Registration"
    }
    checked = 0
    for cid, c in registration.items():
        if cid in classes and c["StaffID1"] in teachers:
            roles = {t["teacher_id"]: t["role"] for t in classes[cid]["teachers"]}
            assert roles[c["StaffID1"]] == "main", cid
            assert c["StaffID2"] is None or roles.get(c["StaffID2"]) in (None, "supervisor")
            checked += 1
    assert checked >= 3
    # a club does not qualify; its pupil in nothing else goes with it, saying why
    clubs = [cid for cid, c in sent(cassette, "classes").items() if c["Type"] == "Club"]
    assert clubs and not set(clubs) & set(classes)
    for cid in clubs:
        assert explain(replay, "classes", cid) == ['type "Club" does not qualify']
    assert explain(replay, "students", "D0299") == [
        "in no kept class",
        f'class {clubs[0]} left out: type "Club" does not qualify',
    ]


@pytest.mark.vcr(allow_playback_repeats=True)
@pytest.mark.default_cassette("clean.yaml")
def test_clean_run_replays_keeps_the_rules_and_a_second_run_changes_nothing(replay, vcr):
    result = replay("run", "integris", "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["inserted"] > 100 and summary["status"] == "ok"
    assert vcr.all_played
    check_rules(replay, "clean.yaml")
    again = json.loads(replay("run", "integris", "--json").stdout)
    assert (again["inserted"], again["updated"], again["deleted"]) == (0, 0, 0)


@pytest.mark.vcr
@pytest.mark.default_cassette("transient.yaml")
def test_rate_limit_outage_and_token_expiry_replay_to_the_same_rules(replay, vcr):
    result = replay("run", "integris", "--json")
    assert result.exit_code == 0, result.stderr
    assert vcr.all_played
    statuses = [r["status"]["code"] for r in vcr.responses]
    assert {429, 503, 401} <= set(statuses)
    token_calls = [r for r in vcr.requests if r.path.endswith("/oauth/token")]
    assert len(token_calls) == 2
    check_rules(replay, "transient.yaml")


@pytest.mark.vcr
@pytest.mark.default_cassette("permission.yaml")
def test_permission_not_granted_replays_as_exit_1(replay):
    result = replay("run", "integris")
    assert result.exit_code == 1
    assert "'Basic information about a student'" in result.stderr


@pytest.mark.vcr
@pytest.mark.default_cassette("malformed.yaml")
def test_malformed_page_replays_as_exit_1_and_stores_nothing(replay):
    result = replay("run", "integris")
    assert result.exit_code == 1
    assert "students page 2: the page has the wrong shape" in result.stderr
    assert json.loads(replay("export", "students", "--json").stdout) == []


@pytest.mark.parametrize("path", cassettes.cassette_files(str(FOLDER)), ids=lambda p: Path(p).name)
def test_no_cassette_holds_a_secret_a_token_or_personal_data(path):
    text = Path(path).read_text()
    assert cassettes.find_secrets(text) == []
    assert SECRET not in text
    for field, kind in PERSONAL_FIELDS.items():
        for value in re.findall(rf'"{field}":"([^"]*)"', text):
            if not value.strip():
                continue  # blank is no data
            if kind == "name":
                assert re.fullmatch(r"(N[0-9a-f]{8}\d+(\s+(and|&)\s+)?)+", value, re.I), (
                    field,
                    value,
                )
            elif kind == "email":
                assert re.fullmatch(r"p[0-9a-f]{8}@example\.org", value), (field, value)
            elif kind == "date":
                assert value == "2000-01-01"
