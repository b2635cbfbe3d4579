"""The cassette scrubber (core/cassettes.py) on a real recording: a run of the small school
recorded from the fake on loopback holds the client secret (form field), bearer tokens
(header and token answer) and pupils', contacts' and staff's personal fields. The written
cassette must hold none of them, and must still replay to the same school."""

from __future__ import annotations

import re

import pytest
import yaml

from mis_sync.connectors.integris.fake import serve
from mis_sync.connectors.integris.wire import PERSONAL_FIELDS
from mis_sync.core import cassettes, pipeline
from mis_sync.core.config import Config
from mis_sync.core.store import Store

from .support import CLIENT_ID, SECRET, SMALL, fake, options, small

REPLAY_URL = cassettes.REPLAY_URL
PERSONAL = sorted(
    {
        record[field].strip()
        for records in SMALL.values()
        for record in records
        for field in PERSONAL_FIELDS
        if isinstance(record.get(field), str) and record[field].strip()
    }
)


def run(store_url: str, base_url: str) -> dict:
    config = Config(schools={"oak": options(base_url=base_url)})
    school, pm = pipeline.prepare(config, "oak")
    store = Store(store_url)
    try:
        pipeline.run_school(store, school, pm)
        return {e: store.export("oak", e, {}) for e in ("students", "contacts", "classes")}
    finally:
        store.close()


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """One recording for the module: (cassette text, tokens the fake issued, what was stored)."""
    folder = tmp_path_factory.mktemp("cassettes")
    server = fake()
    recorder = cassettes.vcr(str(folder), record_mode="all", personal=PERSONAL_FIELDS)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TEST_DATASHARE_SECRET", SECRET)
        with serve(server) as base_url, recorder.use_cassette("small.yaml"):
            stored = run(f"sqlite:///{folder / 'a.db'}", base_url)
    return folder, (folder / "small.yaml").read_text(), server.issued_tokens, stored


def test_the_recording_really_held_what_must_be_scrubbed(recorded):
    """Guards the test itself: the fake did issue tokens and send every personal value."""
    _, text, tokens, stored = recorded
    assert tokens and len(PERSONAL) >= 15
    assert {s["id"] for s in stored["students"]} == {"4821", "4822"}


def test_no_secret_token_or_client_id_is_written(recorded):
    _, text, tokens, _ = recorded
    for value in [SECRET, CLIENT_ID, *tokens]:
        assert value not in text
    assert cassettes.find_secrets(text) == []
    assert "client_id=***&client_secret=***" in text
    assert '"access_token":"***"' in text
    assert f"uri: http://127.0.0.1:{cassettes.REPLAY_PORT}/api/v1/schools/" in text
    assert re.findall(r"authorization:\n\s*- '(.*)'", text) == ["***"] * len(
        re.findall(r"authorization:", text)
    )


def bodies(text: str) -> str:
    """The response bodies of a cassette, unfolded from YAML's line wrapping."""
    return "\n".join(i["response"]["body"]["string"] for i in yaml.safe_load(text)["interactions"])


def test_no_personal_field_is_written_and_pseudonyms_keep_their_shape(recorded):
    text = bodies(recorded[1])
    for value in PERSONAL:  # as a whole word: "Al" is a name, and also in "credentials"
        assert not re.search(rf"(?<!\w){re.escape(value)}(?!\w)", text, re.I), value
    assert '"DateOfBirth":"2000-01-01"' in text
    # a combined contact stays combined, so the split rule still applies on replay
    assert re.search(r'"Title":"Mr and Mrs","Forename":"N[0-9a-f]{8}0 and N[0-9a-f]{8}2"', text)
    assert re.search(r'"Email":"p[0-9a-f]{8}@example\.org"', text)


def test_the_scrubbed_cassette_replays_to_the_same_school(recorded, tmp_path, monkeypatch):
    folder, _, _, stored = recorded
    monkeypatch.setenv("TEST_DATASHARE_SECRET", SECRET)
    with cassettes.vcr(str(folder)).use_cassette("small.yaml") as cassette:
        replayed = run(f"sqlite:///{tmp_path / 'b.db'}", REPLAY_URL)
    assert cassette.all_played
    ids = {e: [r["id"] for r in records] for e, records in replayed.items()}
    assert ids == {e: [r["id"] for r in records] for e, records in stored.items()}
    assert [c["split_from"] for c in replayed["contacts"]] == ["9001", "9001", None]
    assert replayed["classes"] == stored["classes"]


def test_only_the_content_type_header_and_no_host_is_written(recorded):
    interactions = yaml.safe_load(recorded[1])["interactions"]
    assert {h for i in interactions for h in i["response"]["headers"]} == {"content-type"}
    assert not [i for i in interactions if "host" in i["request"]["headers"]]


def test_a_real_recording_keeps_only_what_the_connector_reads(tmp_path, monkeypatch):
    """`record_cassettes --real`, with the fake on loopback standing in for a real Datashare
    that sends fields the connector never reads (a middle name, an address)."""
    from .record_cassettes import main

    data = small()
    data["students"][0].update(MiddleName="Quillon", HomeAddress="1 Example Row")
    monkeypatch.setenv("TEST_DATASHARE_SECRET", SECRET)
    with serve(fake(data)) as base_url:
        args = ["--real", "school", "--base-url", base_url, "--school-id", "1001"]
        args += ["--client-id", CLIENT_ID, "--secret-env", "TEST_DATASHARE_SECRET"]
        main([*args, "--dir", str(tmp_path)])
    text = (tmp_path / "school.yaml").read_text()
    assert "Quillon" not in text and "Example Row" not in text
    assert "MiddleName" not in text and "HomeAddress" not in text
    assert base_url not in text
    assert f"uri: {cassettes.REPLAY_URL}/v1/schools/1001/students?limit=1000" in text
    with cassettes.vcr(str(tmp_path)).use_cassette("school.yaml") as cassette:
        replayed = run(f"sqlite:///{tmp_path / 'c.db'}", REPLAY_URL)
    assert cassette.all_played
    assert [s["id"] for s in replayed["students"]] == ["4821", "4822"]


def test_a_real_datashares_address_is_written_as_the_replay_address():
    from vcr.request import Request

    base = "https://datashare.example.org/api/"
    rewrite = cassettes.vcr_config(base_url=base)["before_record_request"]
    seen = rewrite(Request("GET", base + "v1/schools/77/staff?limit=500", b"", {}))
    assert seen.uri == f"{cassettes.REPLAY_URL}/v1/schools/77/staff?limit=500"
    other = rewrite(Request("GET", "https://elsewhere.example.org/api/x", b"", {}))
    assert other.uri == "https://elsewhere.example.org/api/x"
