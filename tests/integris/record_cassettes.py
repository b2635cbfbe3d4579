"""Record the Integris cassettes from the fake Datashare on loopback.

    python -m tests.integris.record_cassettes

Each scenario runs the real client and pipeline against the fake, with vcrpy recording
through core's scrubbing config (mis_sync.core.cassettes), so secrets and personal fields
are filtered before anything is written. Re-run after a wire change; CI only replays.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mis_sync.connectors.integris.demo import generate_school
from mis_sync.connectors.integris.fake import Fault, serve
from mis_sync.connectors.integris.wire import PERSONAL_FIELDS
from mis_sync.core import cassettes, pipeline
from mis_sync.core.config import Config
from mis_sync.core.errors import SourceError
from mis_sync.core.store import Store

from .support import SECRET, SECRET_ENV, fake, options

FOLDER = Path(__file__).resolve().parents[1] / "cassettes" / "integris"
PUPILS = 60  # every special case of the demo school, in small pages

SCENARIOS = {
    "clean": [],
    "transient": [
        Fault(kind="status", status=429, retry_after=0, resource="students"),
        Fault(kind="status", status=503, resource="contacts", page=2),
        Fault(kind="expire_token", resource="classes"),
    ],
    "permission": [Fault(kind="status", status=403, resource="contacts")],
    "malformed": [Fault(kind="wrong_shape", resource="students", page=2)],
}


def record(name: str, faults: list[Fault]) -> None:
    path = FOLDER / f"{name}.yaml"
    path.unlink(missing_ok=True)
    recorder = cassettes.vcr(str(FOLDER), record_mode="all", personal=PERSONAL_FIELDS)
    server = fake(generate_school(PUPILS), faults=faults)
    with serve(server) as base_url, recorder.use_cassette(path.name):
        config = Config(schools={"oak": options(base_url=base_url, page_limit=50)})
        school, pm = pipeline.prepare(config, "oak")
        store = Store("sqlite:///:memory:")
        try:
            pipeline.run_school(store, school, pm, progress=None)
        except SourceError as exc:
            print(f"{name}: failed as intended: {exc}")
    found = cassettes.find_secrets(path.read_text())
    if found or SECRET in path.read_text():
        sys.exit(f"{path}: holds a secret after scrubbing: {found}")
    print(f"{name}: {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    os.environ[SECRET_ENV] = SECRET
    FOLDER.mkdir(parents=True, exist_ok=True)
    for scenario, faults in SCENARIOS.items():
        record(scenario, faults)
