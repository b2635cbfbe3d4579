"""Ctrl-C at random moments of real `mis-sync run integris` processes: does what the command
says match what was stored?

    python -m benchmarks.interrupts                  # 30 trials on SQLite
    python -m benchmarks.interrupts --postgres       # on a scratch PostgreSQL database

A generated 1,000-pupil school is served by the fake Datashare on loopback; each trial
changes 50 surnames, starts a run as a fresh process, waits until its run row exists, sends
SIGINT after a random 0.2 to 2 s (so some land mid-fetch, some mid-write, some after the
commit) and compares: exit 0 exactly when the run's row is `ok`, and an `ok` run has its
change events. Prints one JSON line: trials, mismatches, outcomes by (status, exit code).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def trials(url: str, count: int, folder: Path) -> dict:
    from mis_sync.connectors.integris.demo import generate_school
    from mis_sync.connectors.integris.fake import serve
    from mis_sync.core.store import Store
    from tests.integris.support import SECRET, SECRET_ENV, fake, write_config

    data = generate_school(1000)
    store = Store(url)
    outcomes: dict[str, int] = {}
    mismatches = 0
    env = {**os.environ, SECRET_ENV: SECRET, "PYTHONPATH": str(ROOT)}
    try:
        with serve(fake(data)) as base_url:
            config = write_config(folder, url, base_url, page_limit=1000)
            for n in range(count):
                for s in data["students"][:50]:  # every committed run has events
                    s["Surname"] = f"N{n}-{s['StudentID']}"
                before = len(store.runs("oak"))
                child = subprocess.Popen(
                    [sys.executable, "-m", "mis_sync.core.cli", "--config", str(config)]
                    + ["run", "integris"],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                while len(store.runs("oak")) == before and child.poll() is None:
                    time.sleep(0.005)
                time.sleep(random.uniform(0.2, 2.0))
                child.send_signal(signal.SIGINT)
                _, err = child.communicate(timeout=120)
                last = store.runs("oak")[0]
                ok = last["status"] == "ok"
                if (child.returncode == 0) != ok or (ok and not store.changes("oak", last["run"])):
                    mismatches += 1
                    print(f"mismatch: exit {child.returncode}, {last}, {err.strip()[-200:]}")
                key = f"{last['status']}, exit {child.returncode}"
                outcomes[key] = outcomes.get(key, 0) + 1
    finally:
        store.close()
    return {"trials": count, "mismatches": mismatches, "outcomes": outcomes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--postgres", action="store_true", help="a scratch PostgreSQL database")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory() as tmp:
        if args.postgres:
            from tests.pgserver import scratch_database

            database = scratch_database("mis_sync_interrupts")
        else:
            database = nullcontext(f"sqlite:///{Path(tmp) / 'mis-sync.db'}")
        with database as url:
            result = trials(url, args.trials, Path(tmp))
    print(json.dumps({"database": "postgresql" if args.postgres else "sqlite", **result}))


if __name__ == "__main__":
    main()
