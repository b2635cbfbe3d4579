"""The mass-delete safeguard against a real-shaped school: an MIS that answers an empty
student list must not wipe it; a real year-end rollover goes through only when allowed."""

from __future__ import annotations

import json

from mis_sync.connectors.integris.demo import generate_school
from mis_sync.connectors.integris.fake import serve

from .support import cli, fake, write_config


def run(tmp_path, db_url, data, *args, **options):
    with serve(fake(data)) as base_url:
        config = write_config(tmp_path, db_url, base_url, **options)
        return cli("--config", str(config), "run", "integris", *args)


def counts(tmp_path) -> dict:
    config = str(tmp_path / "mis-sync.toml")
    return {
        e: len(json.loads(cli("--config", config, "export", e, "--json").stdout))
        for e in ("students", "classes")
    }


def test_an_empty_student_list_stops_before_writing(tmp_path, db_url):
    school = generate_school(300)
    assert run(tmp_path, db_url, school).exit_code == 0
    before = counts(tmp_path)
    result = run(tmp_path, db_url, {**school, "students": []}, "--json")
    assert result.exit_code == 3
    message = result.stderr
    assert "stopped before writing: this run would delete" in message
    assert f"{before['students']} of {before['students']} students" in message
    assert f"{before['classes']} of {before['classes']} classes" in message
    assert "--allow-mass-delete" in message
    assert counts(tmp_path) == before
    runs = json.loads(cli("--config", str(tmp_path / "mis-sync.toml"), "runs", "--json").stdout)
    assert runs[0]["status"] == "stopped" and "would delete" in runs[0]["message"]


def test_a_year_end_rollover_needs_the_override_and_the_run_records_it(tmp_path, db_url):
    school = generate_school(300)
    assert run(tmp_path, db_url, school, mass_delete_threshold=0.15).exit_code == 0
    leavers = {s["StudentID"] for s in school["students"] if s["YearGroup"] == "Year 11"}
    arrivals = [
        {**s, "StudentID": f"N{s['StudentID']}", "YearGroup": "Year 7"}
        for s in school["students"]
        if s["StudentID"] in leavers
    ]
    rolled = {
        **school,
        "students": [s for s in school["students"] if s["StudentID"] not in leavers] + arrivals,
        "classes": [
            {**c, "StudentIDs": [f"N{i}" if i in leavers else i for i in c["StudentIDs"] or []]}
            for c in school["classes"]
        ],
    }
    stopped = run(tmp_path, db_url, rolled, mass_delete_threshold=0.15)
    assert stopped.exit_code == 3
    assert f"{len(leavers)} of" in stopped.stderr and "students" in stopped.stderr

    allowed = run(
        tmp_path, db_url, rolled, "--allow-mass-delete", "--json", mass_delete_threshold=0.15
    )
    assert allowed.exit_code == 0, allowed.stderr
    result = json.loads(allowed.stdout)
    assert result["deleted"] >= len(leavers) and result["inserted"] >= len(arrivals)
    assert result["message"].startswith("mass delete allowed: ")
    runs = json.loads(cli("--config", str(tmp_path / "mis-sync.toml"), "runs", "--json").stdout)
    assert [r["status"] for r in runs] == ["ok", "stopped", "ok"]
