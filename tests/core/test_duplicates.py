"""The near-duplicate register: kept across runs, dismissals kept, a report for the MIS's
support; through the CLI on both databases over the tiny school (tests/core/tiny.py)."""

from __future__ import annotations

import json
import re

from .tiny import table_rows

PIA = {
    "id": "9002",
    "title": "Ms",
    "forename": "Pia",
    "surname": "Ashby",
    "email": "pia@example.org",
    "phone": None,
    "priority": 1,
    "relationship": "Aunt",
    "split_from": None,
    "pupils": [
        {
            "student_id": "4821",
            "contact_id": "9002",
            "relationship": "Aunt",
            "parental_responsibility": False,
            "priority": 1,
        },
        {
            "student_id": "4822",
            "contact_id": "9002",
            "relationship": "Aunt",
            "parental_responsibility": False,
            "priority": 1,
        },
    ],
}
PAM = {
    **PIA,
    "id": "9004",
    "forename": "Pam",
    "relationship": "Mother",
    "pupils": [
        {
            "student_id": "4822",
            "contact_id": "9004",
            "relationship": "Mother",
            "parental_responsibility": True,
            "priority": 1,
        }
    ],
}


def stamp(pair: dict) -> dict:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", pair.pop("first_seen"))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", pair.pop("last_seen"))
    return pair


def test_the_register_shows_both_records_side_by_side(school):
    school.run()
    [pair] = school.json("duplicates")
    assert stamp(pair) == {
        "a": "9002",
        "b": "9004",
        "why": "same email",
        "present": True,
        "dismissed": None,
        "same": ["title", "surname", "email", "phone"],
        "different": ["forename", "relationship"],
        "records": {"9002": PIA, "9004": PAM},
    }


def test_pairs_are_kept_across_runs_and_a_dismissal_stays(school):
    school.run()
    first = school.json("duplicates")[0]["first_seen"]
    school.run()
    [pair] = school.json("duplicates")
    assert pair["first_seen"] == first and pair["present"]

    done = school("duplicates", "dismiss", "9004", "9002")  # either order
    assert done.exit_code == 0, done.stderr
    assert done.stdout.startswith("demo-integris: contacts 9002 and 9004 marked not a duplicate (")
    school.run()
    assert school.json("duplicates") == []
    assert school("duplicates").stdout.endswith(
        "demo-integris: no near duplicates to check (--all shows dismissed ones)\n"
    )
    [kept] = school.json("duplicates", "--all")
    assert kept["dismissed"] and kept["present"] and kept["first_seen"] == first


def test_a_pair_fixed_at_source_is_no_longer_present(school):
    school.run()
    school.data["contacts"][3]["Email"] = "pam@example.org"
    school.run()
    assert school.json("duplicates") == []
    [gone] = school.json("duplicates", "--all")
    assert (gone["a"], gone["b"], gone["present"]) == ("9002", "9004", False)
    assert table_rows(school("duplicates", "--all", "--format", "csv").stdout) == []
    csv = school("duplicates", "--all", "--format", "csv").stdout.splitlines()
    assert csv[0] == "a,b,why,state,first_seen,last_seen,same,different"
    assert csv[1].startswith("9002,9004,same email,gone,")


def test_the_report_for_the_mis_support(school):
    school.run()
    report = school("duplicates", "report", "9002", "9004")
    assert report.exit_code == 0, report.stderr
    first = report.stdout.splitlines()[0]
    assert re.fullmatch(
        r"School demo-integris: contacts 9002 and 9004 look like one person \(same email\),"
        r" first seen"
        r" \S+, last seen \S+\.",
        first,
    )
    assert table_rows(report.stdout) == [
        ["title", "Ms", "Ms", "same"],
        ["forename", "Pia", "Pam", "differs"],
        ["surname", "Ashby", "Ashby", "same"],
        ["email", "pia@example.org", "pia@example.org", "same"],
        ["phone", "", "", "same"],
        ["relationship", "Aunt", "Mother", "differs"],
        ["pupils", "4821 (Aunt); 4822 (Aunt)", "4822 (Mother, parental responsibility)", ""],
    ]


def test_an_unknown_pair_is_one_line_and_exit_2(school):
    school.run()
    for args in (["dismiss", "9002", "9005"], ["report", "9002", "9005"]):
        result = school("duplicates", *args)
        assert result.exit_code == 2
        assert result.stderr.splitlines(keepends=True)[-1] == (  # after the demo-database note
            "mis-sync: error: school 'demo-integris': contacts 9002 and 9005 are not a"
            " near-duplicate"
            " pair in the register (mis-sync duplicates --all lists them)\n"
        )


def test_the_report_names_pupils_by_id_only(school):
    school.run()
    report = school("duplicates", "report", "9002", "9004").stdout
    assert "4821" in report and "4822" in report
    assert not {"Amy", "Ben"} & set(re.findall(r"\w+", report))


def test_forgetting_a_contact_takes_their_pairs_out_of_the_register(school):
    school.run()
    done = school("forget", "contacts", "9004", "--yes", "--json")
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout)["removed"]["near duplicates"] == 1
    assert school.json("duplicates", "--all") == []
