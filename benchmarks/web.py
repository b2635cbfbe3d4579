"""The fleet page's server time for a 500-school store (target: p95 under 300 ms).

    python -m benchmarks.web [--schools 500] [--runs 30] [--requests 50] [--database URL]

Fills a scratch SQLite database (or the URL given, which must be empty) with SCHOOLS schools
of RUNS runs each, every tenth school's last run failed and every 25th stopped, each
successful run with kept counts per entity, as `Store.apply` writes them. Then asks the app
for `/` (the fleet page, logged in) REQUESTS times through FastAPI's in-process test client
and prints p50, p95 and max of the request's wall time in this process (an upper bound of the
server's time: no network in it) and of its CPU time (the server's own work, without the wait
for a core on a shared machine). Also times `/api/schools`, the same data as JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from mis_sync.core.config import Config
from mis_sync.core.store import Store
from mis_sync.core.store import tables as t
from mis_sync.core.web import create_app
from mis_sync.core.web.auth import EDITOR, User

PASSWORD = "bench-only"


def fill(store: Store, schools: int, runs: int) -> None:
    rows = []
    number = 0
    for s in range(schools):
        for r in range(runs):
            number += 1
            last = r == runs - 1
            status = "ok"
            if last and s % 10 == 0:
                status = "failed"
            elif last and s % 25 == 1:
                status = "stopped"
            kept = {"students": 800 + r, "contacts": 1200 + r, "teachers": 80, "classes": 60}
            rows.append(
                {
                    "run": number,
                    "school": f"school{s:03d}",
                    "connector": "integris",
                    "status": status,
                    "started": f"2026-11-{1 + r % 28:02d}T02:00:00Z",
                    "finished": f"2026-11-{1 + r % 28:02d}T02:01:00Z",
                    "inserted": 3,
                    "updated": 10,
                    "deleted": 1,
                    "left_out": 12,
                    "merged": 0,
                    "message": None if status == "ok" else "source failed: HTTP 503",
                    "overridden": False,
                    "summary": json.dumps(
                        {"left_out_by_reason": {}, "near_duplicates": [], "kept": kept}
                    ),
                    "origin": "cli",
                }
            )
    with store.engine.begin() as conn:
        conn.execute(t.runs.insert(), rows)


def timed(client: TestClient, url: str, n: int) -> tuple[list[float], list[float]]:
    """Wall and CPU milliseconds per request: on a shared machine the CPU time is the server's
    own work, the wall time adds the wait for a core."""
    wall, cpu = [], []
    for _ in range(n):
        start, start_cpu = time.perf_counter(), time.process_time()
        answer = client.get(url)
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
        assert answer.status_code == 200, answer.text[:200]
    return wall, cpu


def _line(label: str, ms: list[float]) -> str:
    ms = sorted(ms)
    p95 = ms[max(int(len(ms) * 0.95) - 1, 0)]
    return (
        f"  {label:<18} p50 {statistics.median(ms):6.1f} ms   p95 {p95:6.1f} ms"
        f"   max {ms[-1]:6.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schools", type=int, default=500)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database or f"sqlite:///{Path(folder) / 'fleet.db'}"
        store = Store(url)
        fill(store, args.schools, args.runs)
        hashed = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
        app = create_app(store, Config(), {"op": User("op", EDITOR, None, hashed)})
        client = TestClient(app)
        page = client.get("/login").text
        token = page.split('name="csrf_token" value="')[1].split('"')[0]
        client.post("/login", data={"user": "op", "password": PASSWORD, "csrf_token": token})
        backend = store.engine.url.get_backend_name()
        print(f"{args.schools} schools x {args.runs} runs on {backend}, {args.requests} requests")
        for url_path in ("/", "/api/schools"):
            timed(client, url_path, 3)  # warm: templates compiled, connections open
            wall, cpu = timed(client, url_path, args.requests)
            print(_line(f"{url_path} wall", wall))
            print(_line(f"{url_path} cpu", cpu))
        store.close()


if __name__ == "__main__":
    main()
