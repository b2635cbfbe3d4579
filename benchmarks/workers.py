"""Schools per minute through Celery workers, for 1, 2 and 4 worker processes.

    python -m benchmarks.workers --schools 24 --pupils 300

Fake Datashare servers (one per school, all in one separate process) serve generated schools
on loopback; the store is a scratch database of the benchmark's own on the PostgreSQL server
that MIS_SYNC_TEST_PG names (127.0.0.1 by default), created at the start and dropped at the
end (tests/pgserver.py), and the broker Redis on 127.0.0.1. For each
worker count the script dispatches every school and times until every school has an `ok` run.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from mis_sync.core.store import Store
from tests.pgserver import drop_schema, scratch_database

BROKER = "redis://127.0.0.1:6379/0"
ROOT = Path(__file__).resolve().parents[1]
SECRET_ENV = "BENCH_DATASHARE_SECRET"
SERVE_MANY = """
import sys, time
from contextlib import ExitStack
from mis_sync.connectors.integris.demo import generate_school
from mis_sync.connectors.integris.fake import FakeDatashare, serve
count, pupils = int(sys.argv[1]), int(sys.argv[2])
with ExitStack() as stack:
    for n in range(count):
        data = generate_school(pupils, seed=n)
        app = FakeDatashare(data, client_id="bench", client_secret="bench-secret")
        print(stack.enter_context(serve(app)), flush=True)
    time.sleep(10**6)
"""


def measure(processes: int, config: Path, keys: list[str], env: dict, pg_url: str) -> float:
    drop_schema(pg_url)
    Store(pg_url).close()  # create the schema before the clock starts
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mis_sync.core.cli",
            "--config",
            str(config),
            "worker",
            "--concurrency",
            str(processes),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        time.sleep(4)  # the worker's start-up is not part of the throughput
        store = Store(pg_url)
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "mis_sync.core.cli",
                "--config",
                str(config),
                "dispatch",
                "integris",
            ],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        while not all(any(r["status"] == "ok" for r in store.runs(k)) for k in keys):
            time.sleep(0.1)
        return time.perf_counter() - start
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--schools", type=int, default=24)
    parser.add_argument("--pupils", type=int, default=300)
    parser.add_argument("--processes", type=int, nargs="*", default=[1, 2, 4])
    args = parser.parse_args()
    env = {**os.environ, SECRET_ENV: "bench-secret", "PYTHONPATH": str(ROOT)}
    servers = subprocess.Popen(
        [sys.executable, "-c", SERVE_MANY, str(args.schools), str(args.pupils)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        urls = [servers.stdout.readline().strip() for _ in range(args.schools)]
        with tempfile.TemporaryDirectory() as tmp, scratch_database("mis_sync_bench") as pg_url:
            config = Path(tmp) / "mis-sync.toml"
            lines = [
                f'database = "{pg_url}"',
                f'broker = "{BROKER}"',
                f'queue = "bench-{uuid.uuid4().hex}"',
            ]
            keys = []
            for n, url in enumerate(urls):
                keys.append(f"school{n:03}")
                lines += [
                    f"[schools.{keys[-1]}]",
                    'connector = "integris"',
                    f'base_url = "{url}"',
                    'school_id = "1001"',
                    'client_id = "bench"',
                    f'client_secret_env = "{SECRET_ENV}"',
                ]
            config.write_text("\n".join(lines) + "\n")
            print(f"{args.schools} schools of {args.pupils} pupils; PostgreSQL store, Redis broker")
            print(f"{'processes':>9} {'seconds':>8} {'schools/min':>12}")
            for processes in args.processes:
                elapsed = measure(processes, config, keys, env, pg_url)
                print(f"{processes:>9} {elapsed:>8.1f} {args.schools / elapsed * 60:>12.0f}")
    finally:
        servers.terminate()
        servers.wait()


if __name__ == "__main__":
    main()
