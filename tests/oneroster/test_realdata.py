"""The public OneRoster exchanges in ../shared/realdata/oneroster (see its SOURCES.md), read
from there, unmodified, through the real connector, pipeline and store.

What each set must give is worked out by hand from its files (the reasoning is beside each
expectation), and the field values of the kept records are read from the files here with the
csv module, not by the connector.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest

from mis_sync.core.errors import SourceError

from .support import export, sync

REAL = Path(__file__).parents[2] / ".." / "shared" / "realdata" / "oneroster"
ENTITIES = ("students", "teachers", "classes", "groups", "contacts", "contact-links")

pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason=f"{REAL} is not there")


def rows(exchange: str, name: str) -> dict[str, dict]:
    """One file of a shared set by sourcedId, read with the csv module alone."""
    path = REAL / exchange
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as z:
            text = z.read(name).decode("utf-8-sig")
    else:
        text = (path / name).read_text("utf-8-sig")
    return {r["sourcedId"]: r for r in csv.DictReader(io.StringIO(text))}


def load(store, exchange: str, org: str, **options) -> dict:
    result = sync(store, REAL / exchange, options={"org": org, **options})
    assert result["status"] == "ok"
    return {e: export(store, e) for e in ENTITIES}


def counts(got: dict) -> dict:
    return {e: len(got[e]) for e in ENTITIES}


def reasons(store, entity, rid):
    return store.explain("oak", entity, rid)["reasons"]


def test_catalyst_full_1_1(store, caplog):
    """Classes: cls-222-123456 (`Scheduled`, in that case) is kept; cls-222-123478 is
    tobedeleted. Its one teacher usr-222-123456 (primary false) teaches it; of the two users it
    enrols as students, usr-222-987654 is a teacher in users.csv, so one pupil is kept. Grades:
    that pupil's 12 is a kept year group, 11 (usr-222-567891, in no class) is not. The one
    parent links itself to usr-222-66778899 (in no class): no contact is kept."""
    ex = "catalyst-Test_full_data_set.zip"
    got = load(store, ex, "org-sch-222-456", default_title="Mx")
    assert counts(got) == dict.fromkeys(ENTITIES, 0) | {
        "students": 1,
        "teachers": 1,
        "classes": 1,
        "groups": 1,
    }
    users, classes = rows(ex, "users.csv"), rows(ex, "classes.csv")
    pupil, teacher = users["usr-222-1234561232"], users["usr-222-123456"]
    assert got["students"]["usr-222-1234561232"] == {
        "id": "usr-222-1234561232",
        "known_name": pupil["givenName"],
        "surname": pupil["familyName"],
        "year_group": pupil["grades"],
        "registration_class": None,  # its homeroom is tobedeleted
        "date_of_birth": None,  # demographics.csv is absent
    }
    assert got["teachers"]["usr-222-123456"] == {
        "id": "usr-222-123456",
        "title": "Mx",
        "forename": teacher["givenName"],
        "surname": teacher["familyName"],
        "email": teacher["email"],
        "room": None,
    }
    physics = classes["cls-222-123456"]
    assert got["classes"]["cls-222-123456"] == {
        "id": "cls-222-123456",
        "code": physics["classCode"],
        "description": physics["title"],
        "kind": "class",
        "teachers": [{"teacher_id": "usr-222-123456", "role": "teacher"}],
        "student_ids": ["usr-222-1234561232"],
    }
    assert got["groups"]["grade-12"]["student_ids"] == ["usr-222-1234561232"]
    assert reasons(store, "classes", "cls-222-123478") == [
        "marked tobedeleted",
        "class cls-222-123478 is marked tobedeleted",
    ]
    assert reasons(store, "students", "usr-222-987654") == [
        "sent with another role",
        "user usr-222-987654 is sent as a teacher",
    ]
    assert reasons(store, "contacts", "usr-222-1234561") == [
        "no kept link",
        "link to student usr-222-66778899 left out",
    ]
    assert "academicSessions" not in caplog.text  # `inactive` there: a file never read


def test_catalyst_minimal_1_1(store):
    """The same people with every optional field empty: both classes active, so the homeroom
    (no classCode) is the pupil's registration class by its title; its one teacher, primary
    blank, is its main teacher. No grades, so no year group; the parent names no one."""
    ex = "catalyst-Test_minimal_data_set.zip"
    got = load(store, ex, "org-sch-222-456", default_title="Mx")
    assert counts(got) == dict.fromkeys(ENTITIES, 0) | {"students": 1, "teachers": 1, "classes": 2}
    classes = rows(ex, "classes.csv")
    assert (
        got["students"]["usr-222-1234561232"]["registration_class"]
        == (classes["cls-222-123478"]["title"])
    )
    assert got["classes"]["cls-222-123478"]["kind"] == "registration"
    assert got["classes"]["cls-222-123478"]["teachers"] == [
        {"teacher_id": "usr-222-123456", "role": "main"}
    ]
    assert got["classes"]["cls-222-123456"]["teachers"] == [
        {"teacher_id": "usr-222-123456", "role": "teacher"}
    ]
    assert reasons(store, "contacts", "usr-222-1234561") == ["has no links"]


def test_catalyst_v1p2_full_1_2(store, caplog):
    """1.2: roles in roles.csv. usr-222-123456 is a teacher and (secondary role) a guardian:
    the kept pupil names them as an agent, so they are a contact too. usr-222-1234561 is a
    siteAdministrator only: their link from their own row is not a contact's. The
    misspelled `prefferedGivenName` column is not read (a warning says the real one is
    missing); `1/05/2023` is no date (a warning); the roles.csv header's trailing empty
    names and its `dataLastModified` typo do not matter in a bulk file."""
    ex = "catalyst-v1p2_full_dataset.zip"
    got = load(store, ex, "org-sch-222-456", default_title="Mx")
    assert counts(got) == {
        "students": 1,
        "teachers": 1,
        "classes": 1,
        "groups": 1,
        "contacts": 1,
        "contact-links": 1,
    }
    users = rows(ex, "users.csv")
    pupil, guardian = users["usr-222-1234561232"], users["usr-222-123456"]
    assert got["students"]["usr-222-1234561232"]["known_name"] == pupil["givenName"]
    assert got["contacts"]["usr-222-123456"] == {
        "id": "usr-222-123456",
        "title": "Mx",
        "forename": guardian["givenName"],
        "surname": guardian["familyName"],
        "email": guardian["email"],
        "phone": guardian["phone"],
        "priority": 1,
        "split_from": None,
        "relationship": None,  # OneRoster puts the role on the links only
    }
    assert got["contact-links"][("usr-222-1234561232", "usr-222-123456")] == {
        "student_id": "usr-222-1234561232",
        "contact_id": "usr-222-123456",
        "relationship": "Guardian",
        "parental_responsibility": False,
        "priority": 1,
    }
    assert "users.csv: no column preferredGivenName" in caplog.text
    assert "'1/05/2023' is not an ISO 8601 date" in caplog.text


def test_catalyst_test_data_1_2_all_delta(store, caplog):
    """A 1.2 exchange where every file is a delta, synced first: applied to empty tables. Its
    one class has a pupil but no teacher, so nothing is kept, and explain says so."""
    got = load(store, "catalyst-oneroster_test_data.zip", "ORG_1", default_title="Mx")
    assert counts(got) == dict.fromkeys(ENTITIES, 0)
    assert reasons(store, "classes", "CLASS_001") == ["has no teachers"]
    assert reasons(store, "students", "USER_0") == [
        "in no kept class",
        "class CLASS_001 left out: has no teachers",
    ]
    assert "users.csv is a delta and this school has no earlier picture" in caplog.text


def test_oat_sa_base_1_1(store, caplog):
    """Students only (no teacher anywhere), 1.0-style demographics header (`userSourcedId`,
    `birthdate`) holding no rows, `agents` for agentSourcedIds, `TRUE`, a date-only and a
    space-separated dateLastModified, and a header-only academicSessions.csv without
    schoolYear (never read)."""
    got = load(store, "oat-sa-OneRosterv1p1BaseCSV", "12345")
    assert counts(got) == dict.fromkeys(ENTITIES, 0)
    assert reasons(store, "classes", "class1") == ["has no teachers"]
    assert reasons(store, "students", "user1")[0] == "in no kept class"
    assert "users.csv: no column agentSourcedIds" in caplog.text
    assert "demographics.csv holds only its header row" in caplog.text


def test_nicelion_template_every_file_a_header(store, caplog):
    got = load(store, "nicelion-classlink-template", "sch-any")
    assert counts(got) == dict.fromkeys(ENTITIES, 0)
    for name in ("orgs", "users", "classes", "enrollments"):
        assert f"{name}.csv holds only its header row" in caplog.text
    assert "orgs.csv lists no orgs, so org 'sch-any' cannot be checked" in caplog.text


def test_nicelion_outputs_a_users_file_is_no_exchange(store):
    with pytest.raises(SourceError) as failed:
        sync(store, REAL / "nicelion-outputs", options={"org": "any"})
    assert "not a whole OneRoster exchange: no manifest.csv, classes.csv, enrollments.csv" in str(
        failed.value
    )
