"""Changes a person can read, and a dry run that shows its plan, through the CLI on both
databases over the tiny school (tests/core/tiny.py)."""

from __future__ import annotations

import json

from .tiny import _class, _student, table_rows


def second_run(school):
    """Run 2: a surname changes, a pupil joins the maths set, a pupil leaves."""
    school.run()
    data = school.data
    data["students"][0]["Surname"] = "Rowan-Hale"
    data["students"].append(_student("4824", "Dee", "Pike"))
    data["classes"][0]["StudentIDs"] = ["4821", "4824"]  # 4822 leaves 7A ...
    data["classes"][1]["StudentIDs"] = ["4821", "4824"]
    data["students"] = [s for s in data["students"] if s["StudentID"] != "4822"]  # ... and school
    return school.run()


def test_changes_read_as_sets_values_and_reasons(school):
    second_run(school)
    events = {(e["entity"], e["id"]): e for e in school.json("changes")}
    out = school("changes", "--limit", "0").stdout
    lines = table_rows(out)
    assert out.splitlines()[:5] == [
        "demo-integris: run 2",
        "  students: 1 inserted, 1 updated, 1 deleted",
        "  contacts: 1 deleted",
        "  contact-links: 2 deleted",
        "  classes: 2 updated",
    ]
    shown = {(row[0], row[1]): (row[2], row[3]) for row in lines}
    assert shown[("students", "4821")] == ("update", "surname: Rowan → Rowan-Hale")
    assert shown[("students", "4824")] == (
        "insert",
        "known_name: Dee; surname: Pike; year_group: Year 7; registration_class: 7A;"
        " date_of_birth: 2012-03-04",
    )
    assert shown[("classes", "C77")] == ("update", "student_ids: +4824 -4822")
    assert shown[("students", "4822")] == ("delete", "reason: no longer sent by the source")
    assert "None" not in out and "'" not in out
    # --json keeps cli.md's shape: old and new values in full
    assert events[("classes", "C77")] == {
        "run": 2,
        "entity": "classes",
        "id": "C77",
        "op": "update",
        "changes": {"student_ids": [["4821", "4822"], ["4821", "4824"]]},
    }


def test_changes_filter_by_entity_op_and_mis_id(school):
    second_run(school)
    assert [(e["entity"], e["id"]) for e in school.json("changes", "--entity", "classes")] == [
        ("classes", "C77"),
        ("classes", "C91"),
    ]
    assert [e["id"] for e in school.json("changes", "--op", "delete")] == [
        "4822:9002",
        "4822:9004",
        "9004",  # 9002 stays: 9003's link to 4821 was merged into it
        "4822",
    ]
    assert [e["id"] for e in school.json("changes", "--id", "4822")] == [
        "4822:9002",
        "4822:9004",
        "4822",
    ]
    assert school.json("changes", "--id", "48%") == []  # an ID, never a pattern
    assert school.json("changes", "--id", "482_") == []


def test_changes_show_a_page_and_say_how_many_more(school):
    school.run()
    out = school("changes", "--limit", "3").stdout
    assert sum(line.startswith("│") for line in out.splitlines()) == 3
    assert out.endswith("14 more, use --limit\n")
    assert len(school.json("changes")) == 17  # --json: all of them


def test_a_run_that_changed_nothing_names_the_latest_that_did(school):
    second_run(school)
    school.run()
    assert school("changes").stdout == (
        "demo-integris: run 3 changed nothing; the latest run that changed something is run 2"
        " (mis-sync changes --run 2)\n"
    )
    assert school.json("changes") == []


def test_a_dry_run_shows_its_plan_and_writes_nothing(school):
    school.run()
    school.data["students"][0]["Surname"] = "Rowan-Hale"
    result = school.run("--dry-run")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == (
        "demo-integris: dry run (nothing written): inserted 0, updated 1, deleted 0,"
        " left_out 6, merged 2"
    )
    assert table_rows(result.stdout) == [
        ["students", "4821", "update", "surname: Rowan → Rowan-Hale"]
    ]
    planned = school.json("run", "integris", "--demo", "--dry-run")
    assert planned["run"] is None and planned["status"] == "dry-run" and planned["message"] is None
    assert planned["changes"] == [
        {
            "run": None,
            "entity": "students",
            "id": "4821",
            "op": "update",
            "changes": {"surname": ["Rowan", "Rowan-Hale"]},
        }
    ]
    assert [r["run"] for r in school.json("runs")] == [1]
    assert school.json("export", "students")[0]["surname"] == "Rowan"


def twelve_leave(school) -> None:
    """Twelve pupils in a class of their own are stored, then the MIS sends none of them: a
    mass delete (12 of 14 students) for the next run."""
    pupils = [_student(f"5{n:03}", "Kit", f"S{n}") for n in range(12)]
    school.data["students"] += pupils
    school.data["classes"].append(
        _class("C50", "7B", "Teaching set", [p["StudentID"] for p in pupils], staff=["T40"])
    )
    school.run()
    school.data = {**school.data, "students": school.data["students"][:3]}


def test_a_dry_run_the_safeguard_would_stop_lists_the_deletes_and_exits_3(school):
    twelve_leave(school)
    result = school.run("--dry-run")
    assert result.exit_code == 3
    message = (
        "a real run would stop before writing: this run would delete 12 of 14 students"
        " (more than 20% of what is stored); if the source is right, run again with"
        " --allow-mass-delete"
    )
    assert f"  {message}\n" in result.stdout
    assert ["students", "5000", "delete", "reason: no longer sent by the source"] in table_rows(
        result.stdout
    )
    assert "  students: 2 more deleted (run --dry-run --json lists all)" in result.stdout
    planned = school("run", "integris", "--demo", "--dry-run", "--json")
    assert planned.exit_code == 3

    body = json.loads(planned.stdout)
    assert body["message"] == message
    assert (
        sum(1 for e in body["changes"] if e["entity"] == "students" and e["op"] == "delete") == 12
    )
    assert [r["run"] for r in school.json("runs")] == [1]  # nothing written, no run recorded


def test_changes_of_a_stopped_run_say_what_it_would_have_deleted(school):
    twelve_leave(school)
    assert school.run().exit_code == 3
    [stopped, _] = school.json("runs")
    assert stopped["status"] == "stopped"
    run = str(stopped["run"])

    result = school("changes", "--run", run)
    assert result.exit_code == 0, result.stderr
    assert f"demo-integris: run {run} was stopped by the safeguard and wrote nothing" in (
        result.stdout
    )
    assert "  students: 12 would have deleted\n  classes: 1 would have deleted\n" in (result.stdout)
    rows = table_rows(result.stdout)
    # the pupils' empty class would have gone with them
    assert rows == [*(["students", f"5{n:03}"] for n in range(12)), ["classes", "C50"]]
    assert "Kit" not in result.stdout  # keys only: no name of the pupils
    capped = school("changes", "--run", run, "--limit", "5")
    assert len(table_rows(capped.stdout)) == 5 and "8 more, use --limit" in capped.stdout

    events = school.json("changes", "--run", run)
    assert events[0] == {
        "run": stopped["run"],
        "entity": "students",
        "id": "5000",
        "op": "would-delete",
        "changes": {},
    }
    assert len(events) == 13 and {e["op"] for e in events} == {"would-delete"}
    assert [e["id"] for e in school.json("changes", "--run", run, "--id", "5003")] == ["5003"]
    assert school.json("changes", "--run", run, "--op", "insert") == []
    assert len(school.json("changes", "--run", run, "--op", "delete")) == 13
    assert school.json("changes", "--run", run, "--entity", "teachers") == []
    assert [e["id"] for e in school.json("changes", "--run", run, "--entity", "classes")] == ["C50"]
