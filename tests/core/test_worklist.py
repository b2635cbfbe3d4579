"""The left-out worklist and explain by the MIS's own ID, through the CLI, on both databases,
over the tiny school (tests/core/tiny.py), outputs compared in full."""

from __future__ import annotations

import json

from click.testing import CliRunner

from mis_sync.core import fixes
from mis_sync.core.cli import main
from mis_sync.core.plugins import manager
from mis_sync.core.store import Store

CLUB = 'class C99 left out: type "Club" does not qualify'
WORKLIST = [
    (
        "students",
        "4823",
        ["in no kept class", CLUB],
        False,
        "put pupil 4823 in a registration group or teaching set",
    ),
    (
        "contacts",
        "9003",
        ["duplicate contact", "merged into contact 9002 (same title, names and email)"],
        True,
        "enter contact 9003 once in the MIS:"
        " merged into contact 9002 (same title, names and email)",
    ),
    ("contacts", "9005", ["surname is blank"], False, "add a surname in the MIS for contact 9005"),
    (
        "contact-links",
        "4821:9003",
        ["duplicate contact", "merged into link 4821:9002"],
        True,
        "nothing to fix for the link itself:"
        " its contact is entered twice (merged into link 4821:9002)",
    ),
    (
        "contact-links",
        "4821:9005",
        ["contact not kept", "contact 9005 left out: surname is blank"],
        False,
        "fix contact 9005 first (mis-sync left-out contacts --id 9005)",
    ),
    ("teachers", "T50", ["title is blank"], False, "add a title in the MIS for staff T50"),
    (
        "teachers",
        "T60",
        ["teaches no kept class", CLUB],
        False,
        "make staff T60 a teacher of a registration group or teaching set, or nothing to do if they"
        " teach none",
    ),
    (
        "classes",
        "C99",
        ['type "Club" does not qualify'],
        False,
        'nothing to do unless class C99 should be synced: type "Club" is not, so change its type in'
        " the MIS if it should",
    ),
]


def as_rows(items):
    return [
        {"entity": e, "id": i, "reason": r[0], "reasons": r, "merged": m, "fix": f}
        for e, i, r, m, f in items
    ]


def test_the_worklist_lists_every_left_out_record_with_its_fix(school):
    school.run()
    assert school.json("left-out") == as_rows(WORKLIST)
    assert school.json("left-out", "teachers") == as_rows(WORKLIST[5:7])
    assert school.json("left-out", "--reason", "club") == as_rows([WORKLIST[0], *WORKLIST[6:]])


def test_the_worklist_as_csv_in_full(school):
    school.run()
    csv = school("left-out", "--format", "csv", "--id", "9005")
    assert csv.exit_code == 0, csv.stderr
    assert csv.stdout == (
        "entity,id,reason,because,fix\n"
        "contacts,9005,surname is blank,,add a surname in the MIS for contact 9005\n"
        "contact-links,4821:9005,contact not kept,contact 9005 left out: surname is blank,"
        "fix contact 9005 first (mis-sync left-out contacts --id 9005)\n"
    )


def test_the_worklist_table_groups_by_reason_with_counts_and_merged_last(school):
    school.run()
    out = school("left-out").stdout
    assert out.startswith(
        "demo-integris: run 1 left out 6 records; 2 merged into another contact\n"
    )
    titles = [line.strip() for line in out.splitlines() if line.strip().endswith(")")]
    assert titles == [
        'classes: type "Club" does not qualify (1)',
        "contact-links: contact not kept (1)",
        "contacts: surname is blank (1)",
        "students: in no kept class (1)",
        "teachers: teaches no kept class (1)",
        "teachers: title is blank (1)",
        "contact-links: duplicate contact (1, merged)",
        "contacts: duplicate contact (1, merged)",
    ]
    assert "│ 4823 │ " + CLUB + " │ put pupil 4823 in a registration group or teaching set │" in out


def test_a_pupils_id_finds_the_pupil_and_its_links(school):
    school.run()
    assert [(r["entity"], r["id"]) for r in school.json("left-out", "--id", "4821")] == [
        ("contact-links", "4821:9003"),
        ("contact-links", "4821:9005"),
    ]
    assert [r["id"] for r in school.json("left-out", "--id", "4823")] == ["4823"]


def test_a_school_without_a_run_says_so(tmp_path, db_url):
    config = tmp_path / "mis-sync.toml"
    config.write_text(
        f'database = "{db_url}"\n[schools.oak]\nconnector = "integris"\n'
        'base_url = "http://127.0.0.1:9/api"\nschool_id = "1"\nclient_id = "c"\n'
        'client_secret_env = "OAK_SECRET"\n'
    )
    Store(db_url).close()  # the database exists; no run has been made
    for command in (["left-out"], ["duplicates"], ["check", "sso"]):
        result = CliRunner().invoke(main, ["--config", str(config), *command])
        assert result.stdout == "oak: no successful run yet\n", (command, result.stderr)
        result = CliRunner().invoke(main, ["--config", str(config), *command, "--json"])
        assert json.loads(result.stdout) == [], command


def test_core_words_every_rule_and_a_connector_words_its_own():
    core = fixes.texts(manager(object()))
    integris = fixes.texts(manager("integris"))
    assert core["students.in-no-class"].startswith("put student {id} in a class")
    assert (
        integris["students.in-no-class"] == "put pupil {id} in a registration group or teaching set"
    )
    assert integris["classes.type"] == core["classes.type"]  # not worded by Integris: core's
    left_out = [  # every first reason core's rules give has a rule of its own, none "other"
        ("students", ["in no class"]),
        ("teachers", ["forename is blank", "surname is blank"]),
        ("teachers", ["teaches no class"]),
        ("contacts", ["has no links"]),
        ("contacts", ["no kept link", "link to student 1 left out"]),
        ("contact-links", ["student not kept", "student 1 not sent by the source"]),
        ("contact-links", ["no parental responsibility", "parental_responsibility_only is on"]),
        ("classes", ["has no students"]),
        ("classes", ["no kept student", "student 1 left out"]),
        ("classes", ["has no teachers"]),
        ("classes", ["no kept teacher", "teacher T1 left out"]),
        ("groups", ['type "Club list" does not qualify']),
        ("groups", ["no kept student", "student 1 left out"]),
        ("students", ["failed validation", "students record 1: field X: bad"]),
    ]
    for entity, reasons in left_out:
        assert fixes.rule_of(entity, reasons)[0] != "*.other", (entity, reasons)
    assert fixes.fix_for(core, "teachers", "T1", ["forename is blank", "surname is blank"]) == (
        "add a forename and surname in the MIS for teacher T1"
    )
    assert fixes.fix_for(core, "students", "1", ["sixth form is not synced"]) == (
        "left out by a plugin of this school: sixth form is not synced"
        " (mis-sync explain students 1)"
    )


def test_explain_a_combined_contact_by_its_mis_id(school):
    school.run()
    assert school.json("explain", "contacts", "9001") == {
        "entity": "contacts",
        "id": "9001",
        "kept": False,
        "reasons": ["split into 9001-1 and 9001-2: its title names two people"],
        "split_into": ["9001-1", "9001-2"],
        "parts": [
            {"entity": "contacts", "id": "9001-1", "kept": True, "reasons": []},
            {"entity": "contacts", "id": "9001-2", "kept": True, "reasons": []},
        ],
    }
    assert school("explain", "contacts", "9001").stdout == (
        "contacts 9001: split\n"
        "  split into 9001-1 and 9001-2: its title names two people\n"
        "  contacts 9001-1: kept\n"
        "  contacts 9001-2: kept\n"
    )


def test_explain_a_merged_duplicate(school):
    school.run()
    assert school.json("explain", "contacts", "9003") == {
        "entity": "contacts",
        "id": "9003",
        "kept": False,
        "reasons": ["duplicate contact", "merged into contact 9002 (same title, names and email)"],
        "merged_into": "9002",
    }
    assert school.json("explain", "contact-links", "4821:9003")["merged_into"] == "4821:9002"


def test_explain_a_record_kept_from_its_last_good_copy_agrees_with_export(school):
    school.run()
    school.data["students"][0]["DateOfBirth"] = "2012-13-45"
    school.run()
    answer = school.json("explain", "students", "4821")
    assert answer == {
        "entity": "students",
        "id": "4821",
        "kept": True,
        "reasons": [
            "kept unchanged: the MIS now sends an invalid record",
            "students record 4821: field DateOfBirth: not a YYYY-MM-DD date",
        ],
    }
    exported = school("export", "students", "--json")
    assert [s["id"] for s in json.loads(exported.stdout)] == ["4821", "4822"]
    assert "2012-13-45" not in exported.stdout + str(answer)  # the bad value is not repeated
    assert school.json("left-out", "--id", "4821")[0]["fix"] == (
        "correct the record in the MIS: students record 4821: field DateOfBirth:"
        " not a YYYY-MM-DD date"
    )


def test_a_link_id_without_a_colon_gets_a_hint(school):
    school.run()
    result = school("explain", "contact-links", "4821")
    assert result.exit_code == 2
    # (the line above it says the demo database is read: the fixture has no config file)
    assert result.stderr.splitlines(keepends=True)[-1] == (
        "mis-sync: error: contact-links: '4821' is not a link ID; a link's ID is"
        " student_id:contact_id (4821:CONTACT_ID or STUDENT_ID:4821); `mis-sync left-out"
        " contact-links --id 4821` lists the left-out links of 4821\n"
    )


def test_the_worklist_names_pupils_by_id_only(school):
    school.run()  # pupil 4823 (Cal Moss) is left out
    outputs = [school("left-out", *args) for args in ([], ["--format", "csv"], ["--json"])]
    outputs.append(school("explain", "students", "4823"))
    for result in outputs:
        assert result.exit_code == 0
        assert "4823" in result.stdout
        assert "Moss" not in result.stdout + result.stderr
        assert "Cal" not in result.stdout + result.stderr


def test_the_worklist_goes_to_a_file_with_o(school, tmp_path):
    school.run()
    printed = school("left-out", "--format", "csv").stdout
    written = school("left-out", "--format", "csv", "-o", str(tmp_path / "worklist.csv"))
    assert written.exit_code == 0 and written.stdout == ""
    assert (tmp_path / "worklist.csv").read_text() == printed
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".mis-sync-")] == []
