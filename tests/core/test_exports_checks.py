"""Export Parents, SSO readiness and merged duplicates counted as merged, through the CLI
on both databases over the tiny school (tests/core/tiny.py)."""

from __future__ import annotations

import json

from .tiny import table_rows


def test_export_parents_as_json_in_full(school):
    school.run()
    result = school("export", "parents", "--json")
    assert result.exit_code == 0, result.stderr
    rowan = {
        "title": "Mr",
        "forename": "Jon",
        "surname": "Rowan",
        "email": "rowans@example.org",
        "phone": None,
        "relationship": "Parents",
        "pupils": [
            {"student_id": "4821", "relationship": "Mother", "parental_responsibility": True}
        ],
    }
    ashby = {"surname": "Ashby", "email": "pia@example.org", "phone": None, "title": "Ms"}
    assert json.loads(result.stdout) == [
        {"id": "9001-1", **rowan},
        {"id": "9001-2", **rowan, "title": "Mrs", "forename": "Jan"},
        {
            "id": "9002",
            **ashby,
            "forename": "Pia",
            "relationship": "Aunt",
            "pupils": [
                {"student_id": "4821", "relationship": "Aunt", "parental_responsibility": False},
                {"student_id": "4822", "relationship": "Aunt", "parental_responsibility": False},
            ],
        },
        {
            "id": "9004",
            **ashby,
            "forename": "Pam",
            "relationship": "Mother",
            "pupils": [
                {"student_id": "4822", "relationship": "Mother", "parental_responsibility": True}
            ],
        },
    ]


def test_export_parents_as_csv_in_full(school):
    school.run()
    assert school("export", "parents", "--format", "csv").stdout == (
        "id,title,forename,surname,email,phone,relationship,pupils\n"
        '9001-1,Mr,Jon,Rowan,rowans@example.org,,Parents,"4821 (Mother, parental'
        ' responsibility)"\n'
        '9001-2,Mrs,Jan,Rowan,rowans@example.org,,Parents,"4821 (Mother, parental'
        ' responsibility)"\n'
        "9002,Ms,Pia,Ashby,pia@example.org,,Aunt,4821 (Aunt); 4822 (Aunt)\n"
        '9004,Ms,Pam,Ashby,pia@example.org,,Mother,"4822 (Mother, parental responsibility)"\n'
    )


def test_the_contacts_own_relationship_is_kept_apart_from_the_links(school):
    school.data["contact-links"][1]["Relationship"] = "Guardian"  # 4822 -> 9002, was unset
    school.run()
    contacts = {c["id"]: c for c in school.json("export", "contacts")}
    links = school.json("export", "contact-links")
    relationships = {(lk["student_id"], lk["contact_id"]): lk["relationship"] for lk in links}
    assert contacts["9002"]["relationship"] == "Aunt"  # the contact's own, as the MIS sent it
    assert relationships[("4822", "9002")] == "Guardian"  # the link's own
    assert relationships[("4821", "9002")] == "Aunt"  # merged from 9003's link


SSO = [
    {
        "entity": "teachers",
        "id": "T12",
        "email": "j.kane@example.org; jo@example.org",
        "problem": "several addresses in one field",
    },
    {
        "entity": "teachers",
        "id": "T40",
        "email": "al@example",
        "problem": "not a valid address: The part after the @-sign is not valid."
        " It should have a period.",
    },
    {"entity": "teachers", "id": "T70", "email": None, "problem": "no email"},
    {
        "entity": "contacts",
        "id": "9001-1",
        "email": "rowans@example.org",
        "problem": "shared with contact 9001-2",
    },
    {
        "entity": "contacts",
        "id": "9001-2",
        "email": "rowans@example.org",
        "problem": "shared with contact 9001-1",
    },
    {
        "entity": "contacts",
        "id": "9002",
        "email": "pia@example.org",
        "problem": "shared with contact 9004",
    },
    {
        "entity": "contacts",
        "id": "9004",
        "email": "pia@example.org",
        "problem": "shared with contact 9002",
    },
]


def test_check_sso_lists_who_cannot_be_matched_by_email(school):
    school.run()
    assert school.json("check", "sso") == SSO
    table = school("check", "sso")
    assert table.exit_code == 0
    assert table_rows(table.stdout) == [
        [r["entity"], r["id"], r["email"] or "", r["problem"]] for r in SSO
    ]
    assert table.stdout.endswith(
        "demo-integris: 7 teachers and contacts cannot be matched by email\n"
    )
    csv = school("check", "sso", "--format", "csv").stdout.splitlines()
    assert csv[0] == "entity,id,email,problem" and len(csv) == 1 + len(SSO)


def test_a_parent_and_a_teacher_sharing_an_email_are_both_listed(school):
    school.data["staff"][3]["Email"] = "Pia@example.org"  # T60, but T60 is left out ...
    school.data["staff"][4]["Email"] = "PIA@example.org "  # ... T70 is kept
    school.run()
    shared = {r["id"]: r["problem"] for r in school.json("check", "sso")}
    assert shared["T70"] == "shared with contact 9002, contact 9004"
    assert shared["9002"] == "shared with teacher T70, contact 9004"
    assert "T60" not in shared  # only kept people sign in


def test_merged_duplicates_are_counted_as_merged_not_left_out(school):
    result = school.json("run", "integris", "--demo")
    assert (result["left_out"], result["merged"]) == (6, 2)
    assert "contacts: duplicate contact" not in result["left_out_by_reason"]
    assert result["left_out"] == sum(result["left_out_by_reason"].values())
    [run] = school.json("runs")
    assert (run["left_out"], run["merged"]) == (6, 2)
    text = school.run()
    assert text.stdout.startswith(
        "demo-integris: run 2: inserted 0, updated 0, deleted 0, left_out 6, merged 2\n"
    )
