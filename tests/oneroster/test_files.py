"""The OneRoster 1.1 CSV rules as exporters really write them (BOM, CRLF, quoting, zips, any
column order), and malformed files refused through the CLI, naming file, line and column,
with nothing stored."""

from __future__ import annotations

import json
import zipfile

import pytest

from mis_sync.core.errors import SourceError
from mis_sync.core.schema import export_fields

from .support import HEADERS, N, csv_bytes, export, school, sync, write, write_config
from .support import cli as run_cli

ENTITIES = ("students", "teachers", "classes", "contacts", "contact-links", "groups")


def everything(store):
    return {e: export(store, e) for e in ENTITIES}


@pytest.fixture
def plain(tmp_path):
    """What the small school exports when read from a plain LF folder (SQLite)."""
    from mis_sync.core.store import Store

    store = Store(f"sqlite:///{tmp_path / 'plain.db'}")
    sync(store, write(tmp_path / "plain", school(), crlf=False))
    yield everything(store)
    store.close()


@pytest.mark.parametrize(
    "form",
    [
        dict(bom=True, crlf=True),
        dict(bom=True, crlf=False, as_zip=True),
        dict(bom=False, crlf=True, as_zip=True),
    ],
    ids=["bom-crlf-folder", "bom-lf-zip", "crlf-zip"],
)
def test_bom_crlf_and_zip_read_the_same_as_a_plain_folder(store, tmp_path, plain, form):
    result = sync(store, write(tmp_path / "x", school(), **form))
    assert result["status"] == "ok"
    assert everything(store) == plain


def test_a_zip_of_a_folder_is_read_from_inside_the_folder(store, tmp_path, plain):
    folder = write(tmp_path / "x", school())
    path = tmp_path / "nested.zip"
    with zipfile.ZipFile(path, "w") as z:
        for f in folder.iterdir():
            z.write(f, f"oneroster-export/{f.name}")
    sync(store, path)
    assert everything(store) == plain


def test_columns_are_found_by_name_in_any_order_beside_unknown_ones(store, tmp_path, plain):
    headers = {
        name: [*reversed(cols), "metadata.colour"]
        for name, cols in HEADERS.items()
        if name != "users"
    }
    headers["users"] = [*reversed(HEADERS["users"])]
    sync(store, write(tmp_path / "x", school(), headers=headers))
    assert everything(store) == plain


def test_quoted_fields_keep_their_commas_and_quotes(store, tmp_path):
    data = school()
    data["users"][0]["familyName"] = 'O"Vel, Tox'
    data["users"][0]["agentSourcedIds"] = " p2 , p1 "
    data["classes"][1]["title"] = 'Maths, "set 1"'
    sync(store, write(tmp_path / "x", data))
    assert export(store, "students")["s1"]["surname"] == 'O"Vel, Tox'
    assert export(store, "classes")["c-ma7"]["description"] == 'Maths, "set 1"'
    assert export(store, "contact-links")[("s1", "p2")]["priority"] == 1


def test_status_and_date_last_modified_may_be_filled_in_a_bulk_file(store, tmp_path):
    data = school()
    for e in data["enrollments"]:
        e.update(status="active", dateLastModified="2025-01-01T00:00:00.000Z")
    data["enrollments"][1]["status"] = "tobedeleted"  # s2 leaves 7A: left out of a bulk too
    sync(store, write(tmp_path / "x", data))
    assert export(store, "classes")["c-7a"]["student_ids"] == ["s1"]


def test_a_mis_sync_run_syncs_a_zip_into_the_same_exports_as_integris(
    db_url, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path / "exchange", school(), as_zip=True, bom=True)
    write_config(tmp_path, db_url, path)
    result = run_cli("run", "oneroster", "--school", "oak")
    assert result.exit_code == 0, result.stderr
    assert "oak: run 1: inserted 13" in result.stdout
    for entity in ENTITIES:
        out = run_cli("export", entity, "--format", "json")
        rows = json.loads(out.stdout)
        assert rows and all(list(r) == list(export_fields(entity)) for r in rows)
    students = json.loads(run_cli("export", "students", "--format", "json").stdout)
    assert [s["id"] for s in students] == ["s1", "s2"]
    again = run_cli("run", "oneroster", "--school", "oak")
    assert "inserted 0, updated 0, deleted 0" in again.stdout
    assert run_cli("set", "teacher", "t1", "room", "B12").exit_code == 0  # a local field here too


def _users(**changes) -> list[dict]:
    data = school()
    data["users"][3].update(changes)  # t1, on line 5 of users.csv
    return data["users"]


BROKEN = {
    "missing column": (
        dict(raw={"users.csv": csv_bytes("users", [], header=HEADERS["users"][:5])}),
        "users.csv line 1: no column role",
    ),
    "wrong field count": (
        dict(raw={"classes.csv": csv_bytes("classes", school()["classes"]) + b"c-x,,,Extra\r\n"}),
        "classes.csv line 5: 4 fields, but the header has 14",
    ),
    "bad primary": (
        dict(
            raw={
                "enrollments.csv": csv_bytes(
                    "enrollments",
                    [
                        {
                            "sourcedId": "e1",
                            "classSourcedId": "c-7a",
                            "schoolSourcedId": "sch-oak",
                            "userSourcedId": "t1",
                            "role": "teacher",
                            "primary": "1",
                        }
                    ],
                )
            }
        ),
        "enrollments.csv line 2, column primary: '1' is not true or false",
    ),
    "bad birth date (value not shown)": (
        dict(demographics=[{"sourcedId": "s1", "birthDate": "04/03/2012"}]),
        "demographics.csv line 2, column birthDate: the value is not a YYYY-MM-DD date",
    ),
    "bad status": (
        dict(classes=[dict(school()["classes"][0], status="deleted")]),
        "classes.csv line 2, column status: 'deleted' is not active or tobedeleted",
    ),
    "bad status of a person (value not shown)": (
        dict(users=_users(status=N[3][0])),
        "users.csv line 5, column status: the value is not active or tobedeleted",
    ),
    "empty ID": (
        dict(users=_users(sourcedId="")),
        "users.csv line 5, column sourcedId: empty, but the value is required",
    ),
    "bad quoting": (
        dict(raw={"orgs.csv": b'sourcedId,name,type\r\n"sch-oak"x,Oak,school\r\n'}),
        "orgs.csv line 2: not valid CSV",
    ),
    "not UTF-8": (
        dict(raw={"orgs.csv": b"sourcedId,name,type\nsch-oak,Oak \xe9cole,school\n"}),
        "orgs.csv line 2: not UTF-8",
    ),
    "listed but missing": (
        dict(raw={"users.csv": None}),
        "manifest.csv says users.csv is bulk, but there is no users.csv",
    ),
    "bad manifest mode": (
        dict(modes={"users": "full"}),
        "manifest.csv line 9, column value: file.users is 'full', not bulk, delta or absent",
    ),
    "another OneRoster version": (
        dict(raw={"manifest.csv": b"propertyName,value\noneroster.version,1.3\n"}),
        "manifest.csv line 2, column value: oneroster.version is '1.3'",
    ),
    "no manifest": (
        dict(raw={"manifest.csv": None}),
        "not a whole OneRoster exchange: no manifest.csv (manifest.csv says what the exchange",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_malformed_exchange_fails_naming_file_line_and_column(tmp_path, monkeypatch, case):
    monkeypatch.chdir(tmp_path)
    change, message = BROKEN[case]
    change = dict(change)
    raw, modes = change.pop("raw", {}), change.pop("modes", None)
    path = write(tmp_path / "x", school(**change), modes=modes, raw={})
    for name, content in raw.items():
        if content is None:
            (path / name).unlink()
        else:
            (path / name).write_bytes(content)
    write_config(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", path)
    result = run_cli("run", "oneroster", "--school", "oak")
    assert result.exit_code == 1, result.stdout
    assert message in result.stderr
    assert not any(name in result.stderr for pair in N for name in pair)  # no one's name
    runs = json.loads(run_cli("runs", "--json").stdout)
    assert [r["status"] for r in runs] == ["failed"]
    assert json.loads(run_cli("export", "students", "--format", "json").stdout) == []


def test_a_malformed_delta_leaves_the_stored_school_as_it_was(store, tmp_path):
    sync(store, write(tmp_path / "x", school()))
    before = {e: export(store, e) for e in ENTITIES}
    data = school()
    data["users"] = [dict(data["users"][0], status="gone", familyName="New")]
    with pytest.raises(SourceError, match="users.csv line 2, column status"):
        sync(store, write(tmp_path / "y", data, modes={"users": "delta"}))
    assert {e: export(store, e) for e in ENTITIES} == before
    assert sync(store, write(tmp_path / "x", school()))["inserted"] == 0


def test_a_sourced_id_sent_twice_counts_once_as_its_last_row_says(store, tmp_path, caplog):
    data = school()
    data["users"].append(dict(data["users"][0], familyName="Later"))
    sync(store, write(tmp_path / "x", data))
    assert export(store, "students")["s1"]["surname"] == "Later"
    assert "students s1 sent more than once; the last one counts" in caplog.text
