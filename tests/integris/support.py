"""A tiny Datashare school in wire format, and ways to sync it through the real client."""

from __future__ import annotations

import copy
from pathlib import Path

from click.testing import CliRunner

from mis_sync.connectors.integris.fake import BASE_URL_INPROCESS, FakeDatashare
from mis_sync.core import pipeline
from mis_sync.core.cli import main
from mis_sync.core.config import Config

SECRET_ENV = "TEST_DATASHARE_SECRET"
SECRET = "s3cret-value-for-tests-only"
CLIENT_ID = "test-client"
SCHOOL_ID = "1001"

SMALL = {
    "students": [
        {
            "StudentID": "4821",
            "KnownName": "Amy",
            "LegalForename": "Amelia",
            "Surname": "Rowan",
            "DateOfBirth": "2012-03-04",
            "YearGroup": "Year 7",
            "RegistrationGroup": "7A",
        },
        {
            "StudentID": "4822",
            "KnownName": None,
            "LegalForename": " Benedikt ",
            "Surname": "Ashby",
            "DateOfBirth": "2012-05-06",
            "YearGroup": "Year 7",
            "RegistrationGroup": "7A",
        },
    ],
    "contacts": [
        {
            "ContactID": "9001",
            "Title": "Mr and Mrs",
            "Forename": "Jon and Jan",
            "Surname": "Rowan",
            "Email": " Rowans@Example.org ",
            "Phone": "01632 960123",
            "Relationship": "Parents",
        },
        {
            "ContactID": "9002",
            "Title": "Ms",
            "Forename": "Pia",
            "Surname": "Ashby",
            "Email": "pia@example.org",
            "Relationship": "Aunt",
        },
    ],
    "contact-links": [
        {
            "StudentID": "4821",
            "ContactID": "9001",
            "Relationship": "Mother",
            "ParentalResponsibility": True,
        },
        {"StudentID": "4822", "ContactID": "9002", "ParentalResponsibility": None},
    ],
    "staff": [
        {
            "StaffID": "T12",
            "Title": "Ms",
            "Forename": "Jo",
            "Surname": "Kane",
            "Email": "J.Kane@example.org",
        },
        {
            "StaffID": "T40",
            "Title": "Mr",
            "Forename": "Al",
            "Surname": "Fenn",
            "Email": "al@example.org",
        },
    ],
    "classes": [
        {
            "ClassID": "C77",
            "ClassCode": "7A",
            "Description": "7A Registration",
            "Type": "Registration",
            "StaffID1": "T12",
            "StaffID2": "T40",
            "StaffIDs": None,
            "StudentIDs": ["4821", "4822"],
        },
        {
            "ClassID": "C91",
            "ClassCode": "7Ma1",
            "Description": "Year 7 Maths set 1",
            "Type": "Teaching set",
            "StaffID1": None,
            "StaffID2": None,
            "StaffIDs": ["T40", "T12"],
            "StudentIDs": ["4821"],
        },
    ],
    "groups": [
        {
            "GroupID": "G5",
            "Description": "Red House",
            "Type": "House group",
            "StudentIDs": ["4821"],
        },
    ],
}


def small(**changes) -> dict:
    """A copy of SMALL with whole resources replaced (students=[...])."""
    data = copy.deepcopy(SMALL)
    for key, value in changes.items():
        data[key.replace("_", "-")] = value
    return data


def options(**extra) -> dict:
    return {
        "connector": "integris",
        "base_url": BASE_URL_INPROCESS,
        "school_id": SCHOOL_ID,
        "client_id": CLIENT_ID,
        "client_secret_env": SECRET_ENV,
        **extra,
    }


def fake(data: dict | None = None, **kwargs) -> FakeDatashare:
    return FakeDatashare(
        small() if data is None else data,
        school_id=SCHOOL_ID,
        client_id=CLIENT_ID,
        client_secret=SECRET,
        **kwargs,
    )


def sync(store, server: FakeDatashare, **kwargs) -> dict:
    """One run of school `oak` through the real connector, client and pipeline."""
    school_options = kwargs.pop("options", {})
    config = Config(schools={"oak": options(**school_options)})
    school, pm = pipeline.prepare(config, "oak")
    return pipeline.run_school(store, school, pm, transport=server.transport(), **kwargs)


def write_config(folder: Path, database: str, base_url: str, **extra) -> Path:
    lines = [f'database = "{database}"', "", "[schools.oak]"]
    lines += [f"{k} = {_toml(v)}" for k, v in options(base_url=base_url, **extra).items()]
    path = folder / "mis-sync.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def cli(*args: str, env: dict | None = None):
    """Invoke the CLI in-process; stdout and stderr stay apart."""
    return CliRunner().invoke(main, list(args), env={SECRET_ENV: SECRET, **(env or {})})


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return f'"{value}"'
