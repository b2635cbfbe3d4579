"""Record the Integris cassettes, scrubbed by core's one config (mis_sync.core.cassettes).

    python -m tests.integris.record_cassettes
        every scenario below, from the fake Datashare on loopback, into tests/cassettes/integris

    python -m tests.integris.record_cassettes --real NAME --base-url URL --school-id ID \\
        --client-id ID --secret-env VAR [--dir DIR]
        one clean run against a real Datashare into DIR/NAME.yaml (DIR defaults to a folder
        outside the repository); the secret is read from the environment variable VAR

Each recording runs the real client and pipeline, with vcrpy writing through the scrubber,
so secrets and personal fields are filtered before anything reaches the disk; a cassette
that still holds the secret, the client id or a token-looking string is deleted and the
script fails. A real recording also drops every record key the connector does not read and
points its requests at the replay address. See docs/connectors/integris.md, "Recording
cassettes". CI only replays.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import msgspec
import yaml

from mis_sync.connectors.integris import wire
from mis_sync.connectors.integris.demo import generate_school
from mis_sync.connectors.integris.fake import Fault, serve
from mis_sync.core import cassettes, pipeline
from mis_sync.core.config import Config
from mis_sync.core.errors import MisSyncError
from mis_sync.core.store import Store

from .support import CLIENT_ID, SECRET, SECRET_ENV, fake, options

FOLDER = Path(__file__).resolve().parents[1] / "cassettes" / "integris"
PUPILS = 60  # every special case of the demo school, in small pages
# the keys a real recording keeps: those the connector reads, and nothing else
WIRE_FIELDS = frozenset(
    f.encode_name for cls, _ in wire.RESOURCES.values() for f in msgspec.structs.fields(cls)
)

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


def record(path: Path, school_options: dict, secrets: list[str], **scrub) -> None:
    """One run of school `oak` with vcrpy recording `path` through the scrubber."""
    path.unlink(missing_ok=True)
    recorder = cassettes.vcr(
        str(path.parent), record_mode="all", personal=wire.PERSONAL_FIELDS, **scrub
    )
    with recorder.use_cassette(path.name):
        school, pm = pipeline.prepare(Config(schools={"oak": school_options}), "oak")
        store = Store("sqlite:///:memory:")
        try:
            summary = pipeline.run_school(store, school, pm)
            print(f"{path.stem}: {summary['inserted']} records, {summary['left_out']} left out")
        except MisSyncError as exc:
            print(f"{path.stem}: failed as intended: {exc}")
        finally:
            store.close()
    text = path.read_text() if path.exists() else ""
    found = cassettes.find_secrets(text) + [s[:4] + "..." for s in secrets if s and s in text]
    if found:
        path.unlink()
        sys.exit(f"{path}: deleted, it held a secret after scrubbing: {found}")
    print(f"{path.stem}: {path} ({len(text)} bytes)")


def record_fake() -> None:
    os.environ[SECRET_ENV] = SECRET
    FOLDER.mkdir(parents=True, exist_ok=True)
    for name, faults in SCENARIOS.items():
        with serve(fake(generate_school(PUPILS), faults=faults)) as base_url:
            school_options = options(base_url=base_url, page_limit=50)
            record(FOLDER / f"{name}.yaml", school_options, [SECRET, CLIENT_ID])
        if faults:
            complete_from(FOLDER / f"{name}.yaml", FOLDER / "clean.yaml")


def complete_from(path: Path, clean: Path) -> None:
    """Add to a failing scenario's cassette every request of the clean one that it lacks.

    The six resources are fetched at once, and a failure stops the others at their next
    request: which of their requests were made before the stop depends on the threads'
    timing, while recording and again while replaying. A replay that got further than the
    recording would fail on a request the cassette lacks instead of on the fault it is
    about. The clean scenario serves the same school, so its answers are the ones the fake
    would have given.
    """
    held = yaml.safe_load(path.read_text())
    have = {(i["request"]["method"], i["request"]["uri"]) for i in held["interactions"]}
    for interaction in yaml.safe_load(clean.read_text())["interactions"]:
        if (interaction["request"]["method"], interaction["request"]["uri"]) not in have:
            held["interactions"].append(interaction)
    path.write_text(yaml.safe_dump(held, sort_keys=False))


def record_real(args: argparse.Namespace) -> None:
    secret = os.environ.get(args.secret_env)
    if not secret:
        sys.exit(f"environment variable {args.secret_env} (the client secret) is not set")
    folder = Path(args.dir).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    school_options = {
        "connector": "integris",
        "base_url": args.base_url,
        "school_id": args.school_id,
        "client_id": args.client_id,
        "client_secret_env": args.secret_env,
    }
    record(
        folder / f"{args.real}.yaml",
        school_options,
        [secret, args.client_id],
        keep=WIRE_FIELDS,
        base_url=args.base_url,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.integris.record_cassettes")
    parser.add_argument("--real", metavar="NAME", help="record NAME.yaml from a real Datashare")
    parser.add_argument("--base-url")
    parser.add_argument("--school-id")
    parser.add_argument("--client-id")
    parser.add_argument("--secret-env", metavar="VAR")
    parser.add_argument("--dir", default=str(Path(tempfile.gettempdir()) / "mis-sync-cassettes"))
    args = parser.parse_args(argv)
    if args.real is None:
        record_fake()
        return
    needed = ("base_url", "school_id", "client_id", "secret_env")
    missing = [a for a in needed if not getattr(args, a)]
    if missing:
        parser.error("--real needs " + ", ".join("--" + m.replace("_", "-") for m in missing))
    record_real(args)


if __name__ == "__main__":
    main()
