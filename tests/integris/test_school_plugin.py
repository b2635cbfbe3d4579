"""A school's own plugin, installed as a `mis_sync.plugins` entry point, in a real
`mis-sync run`: its merge and filter run first, and core's (trylast) follow them through
(hookspecs.py, mis_sync_merge and mis_sync_filter; docs/hooks.md)."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest

from mis_sync.connectors.integris.fake import serve

from .support import cli, fake, small, write_config

MODULE = "oak_school_rules"
PLUGIN = '''
"""Oak's own rules: sixth formers are not synced; a "+tag" in an email is the same address."""
import re

from msgspec.structs import replace

from mis_sync.core.hookspecs import hookimpl

calls = []


@hookimpl
def mis_sync_merge(dataset):
    calls.append("merge")
    contacts = dataset.records["contacts"]
    for cid, c in list(contacts.items()):
        if c.email:
            contacts[cid] = replace(c, email=re.sub(r"\\+[^@]*@", "@", c.email))


@hookimpl
def mis_sync_filter(dataset):
    calls.append("filter")
    for sid, s in list(dataset.records["students"].items()):
        if s.year_group == "Year 13":
            dataset.leave_out("students", sid, "sixth form: not synced by Oak")
'''


@pytest.fixture
def school_plugin(tmp_path, monkeypatch):
    """The plugin as a school installs it: a module and a distribution naming its entry point."""
    site = tmp_path / "site"
    dist = site / "oak_school_rules-1.0.dist-info"
    dist.mkdir(parents=True)
    (site / f"{MODULE}.py").write_text(textwrap.dedent(PLUGIN))
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: oak-school-rules\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[mis_sync.plugins]\noak = {MODULE}\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delenv("MIS_SYNC_LOAD_PLUGINS", raising=False)
    yield
    sys.modules.pop(MODULE, None)


def data() -> dict:
    """SMALL, plus a sixth former who is the only pupil of a class with a teacher of its own,
    and a contact entered twice, once with a "+tag" in the email."""
    d = small()
    d["students"].append(
        {"StudentID": "4830", "KnownName": "Cy", "Surname": "Vale", "YearGroup": "Year 13"}
    )
    d["staff"].append({"StaffID": "T50", "Title": "Dr", "Forename": "Io", "Surname": "Marsh"})
    d["classes"].append(
        {
            "ClassID": "C13",
            "ClassCode": "13Ph",
            "Description": "Year 13 Physics",
            "Type": "Teaching set",
            "StaffIDs": ["T50"],
            "StudentIDs": ["4830"],
        }
    )
    d["contacts"] += [
        {"ContactID": "9003", "Title": "Mr", "Forename": "Bo", "Surname": "Vale"},
        {
            "ContactID": "9004",
            "Title": "Ms",
            "Forename": "Pia",
            "Surname": "Ashby",
            "Email": "pia+oak@example.org",
        },
    ]
    d["contact-links"] += [
        {"StudentID": "4830", "ContactID": "9003", "ParentalResponsibility": True},
        {"StudentID": "4821", "ContactID": "9004", "ParentalResponsibility": True},
    ]
    return d


def explain(config, entity, rid) -> list[str]:
    result = cli("--config", config, "explain", entity, rid, "--json")
    return json.loads(result.stdout)["reasons"]


def test_core_follows_a_school_plugins_merge_and_filter_through(tmp_path, db_url, school_plugin):
    with serve(fake(data())) as base_url:
        config = str(write_config(tmp_path, db_url, base_url))
        result = cli("--config", config, "run", "integris", "--json")
    assert result.exit_code == 0, result.stderr
    assert sys.modules[MODULE].calls == ["merge", "filter"]

    # the plugin's filter, then core's fixed point: the class losing its only pupil goes,
    # so does the teacher who taught only it, the pupil's link and the contact it held
    assert explain(config, "students", "4830") == ["sixth form: not synced by Oak"]
    assert explain(config, "classes", "C13") == [
        "no kept student",
        "student 4830 left out: sixth form: not synced by Oak",
    ]
    assert explain(config, "teachers", "T50") == [
        "teaches no kept class",
        "class C13 left out: no kept student",
    ]
    assert explain(config, "contact-links", "4830:9003") == [
        "student not kept",
        "student 4830 left out: sixth form: not synced by Oak",
    ]
    assert explain(config, "contacts", "9003") == ["no kept link", "link to student 4830 left out"]

    # the plugin's merge ran before core's: with the tag gone, 9004 is 9002 by core's rule
    assert explain(config, "contacts", "9004") == [
        "duplicate contact",
        "merged into contact 9002 (same title, names and email)",
    ]
    links = json.loads(cli("--config", config, "export", "contact-links", "--json").stdout)
    assert {(lk["student_id"], lk["contact_id"]) for lk in links} == {
        ("4821", "9001-1"),
        ("4821", "9001-2"),
        ("4821", "9002"),
        ("4822", "9002"),
    }
    kept = {
        e: [r["id"] for r in json.loads(cli("--config", config, "export", e, "--json").stdout)]
        for e in ("students", "classes", "teachers")
    }
    assert kept == {
        "students": ["4821", "4822"],
        "classes": ["C77", "C91"],
        "teachers": ["T12", "T40"],
    }
