"""The template's own behaviour beyond the kit: what its sample keeps, and how a bad record is
handled, since authors copy both."""

import json
import shutil
from pathlib import Path

import pytest

import mis_sync.connectors._template as template
from mis_sync.core import pipeline, plugins
from mis_sync.core.config import Config
from mis_sync.core.errors import SourceError
from mis_sync.core.store import Store

SAMPLE = Path(template.__file__).parent / "sample"


@pytest.fixture
def folder(tmp_path):
    return Path(shutil.copytree(SAMPLE, tmp_path / "school"))


@pytest.fixture
def store(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'kit.db'}")
    yield s
    s.close()


def sync(store, folder):
    pm = plugins.manager(template)
    config = Config(schools={"s": {"connector": "template", "path": str(folder)}})
    return pipeline.run_school(store, pipeline.school_for(config, "s", pm), pm)


def edit(folder, entity, change):
    path = folder / f"{entity}.json"
    records = json.loads(path.read_text())
    change(records)
    path.write_text(json.dumps(records))


def test_the_sample_keeps_what_qualifies(store, folder):
    sync(store, folder)
    assert store.explain("s", "classes", "C4")["kept"] is False  # the chess club
    assert store.explain("s", "students", "S10")["kept"] is False  # only in the chess club
    assert store.explain("s", "groups", "G3")["kept"] is False  # a club list, not a group type
    assert store.explain("s", "teachers", "T3")["kept"] is False  # no title
    assert len(store.export("s", "students", {})) == 9


def test_a_bad_record_is_left_out_naming_file_id_and_field_and_its_stored_copy_stays(
    store, folder, caplog
):
    sync(store, folder)
    before = {e: store.export("s", e, {}) for e in ("students", "contact-links")}

    def bad_surname(records):
        records[2]["surname"] = 5

    def bad_link(records):
        records[0]["parental_responsibility"] = "yes"

    edit(folder, "students", bad_surname)
    edit(folder, "contact-links", bad_link)
    second = sync(store, folder)

    assert (second["inserted"], second["updated"], second["deleted"]) == (0, 0, 0)
    assert {e: store.export("s", e, {}) for e in before} == before
    explained = store.explain("s", "students", "S03")["reasons"]
    assert explained[0] == "kept unchanged: the MIS now sends an invalid record"
    assert explained[-1].startswith("students.json record S03: ")
    reasons = caplog.text
    assert "students.json record S03: " in reasons and "$.surname" in reasons
    link = json.loads((folder / "contact-links.json").read_text())[0]
    link_id = f"{link['student_id']}:{link['contact_id']}"
    assert f"contact-links.json record {link_id}: " in reasons
    assert "$.parental_responsibility" in reasons


def test_a_record_without_an_id_is_left_out_by_its_position(store, folder, caplog):
    edit(folder, "students", lambda records: records[4].pop("id"))
    sync(store, folder)
    assert "students.json record #5 (no ID): Object missing required field `id`" in caplog.text


def test_a_missing_file_fails_the_run(store, folder):
    (folder / "groups.json").unlink()
    with pytest.raises(SourceError, match="groups.json"):
        sync(store, folder)
    assert store.runs("s")[0]["status"] == "failed"
