"""A fleet of schools behind a network: schools per minute, memory, connections, 429s.

    python -m benchmarks.fleet --schools 1000 --latency-ms 50 --store postgresql
    python -m benchmarks.fleet --schools 200 --store sqlite --jobs 8 --repeat 1
    python -m benchmarks.fleet --schools 200 --mode workers --workers 2

One fake Datashare (a process of its own) serves every school, as one hosted API would:
each school its own school id and OAuth client, 300 to 2,000 pupils (mean about 650), every
request delayed by `--latency-ms` and every answer paced through one shared link of
`--mbit`, and at most `--api-in-flight` requests at once per client, more answered with
429 + Retry-After. The sync is `mis-sync run integris --jobs N` as one process (`--mode cli`)
or `mis-sync dispatch` into `--workers` Celery worker processes (`--mode workers`, Redis on
127.0.0.1). Each repeat starts from an empty store (a scratch PostgreSQL database of its own,
or a SQLite file), times an initial sync of every school and an unchanged re-run, and
prints schools per minute for both, the peak RSS of the syncing process (the largest worker
process in `--mode workers`), the most PostgreSQL connections open at once, and the 429s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from mis_sync.connectors.integris.fake import FakeDatashare, Network

ROOT = Path(__file__).resolve().parents[1]
SECRET_ENV = "FLEET_DATASHARE_SECRET"
SECRET = "fleet-secret"
BROKER = "redis://127.0.0.1:6379/0"
TEMPLATES = 24  # distinct generated schools; school n is template n % TEMPLATES
SMALLEST, LARGEST, MEAN = 300, 2000, 650


def school_sizes(count: int = TEMPLATES, seed: int = 11) -> list[int]:
    """Pupils per template: 300 plus an exponential tail, capped at 2,000 (mean about 650),
    most schools small, a few large secondaries, as in a real trust or authority."""
    rng = random.Random(seed)
    tail = 1 / (MEAN - SMALLEST)
    return sorted(min(LARGEST, SMALLEST + int(rng.expovariate(tail))) for _ in range(count))


class FleetDatashare(FakeDatashare):
    """The fake Datashare with many schools: id `S<n>`, client `fleet-<n>`, one secret.

    `GET /stats` answers the counters the benchmark prints (not part of the wire).
    """

    def __init__(self, templates: list[dict], *, network: Network) -> None:
        super().__init__({}, client_id="", client_secret=SECRET, default_limit=500, network=network)
        self.templates = templates

    def _credentials_ok(self, client_id, secret) -> bool:
        return bool(client_id) and client_id.startswith("fleet-") and secret == SECRET

    def _school_data(self, school_id: str):
        number = school_id[1:]
        if school_id[:1] != "S" or not number.isdigit():
            return None
        return self.templates[int(number) % len(self.templates)]

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != "/stats":
            return super().__call__(environ, start_response)
        body = json.dumps(
            {
                "requests": len(self.requests),
                "rejected": self.rejected,
                "peak_total": self.peak_total,
                "cpu_s": _cpu_seconds(resource.getrusage(resource.RUSAGE_SELF)),
                "peak_per_client": max(
                    (n for c, n in self.peak_in_flight.items() if c is not None), default=0
                ),
            }
        ).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]


def _cpu_seconds(usage) -> float:
    return usage.ru_utime + usage.ru_stime


def machine_cpu_seconds() -> float:
    """CPU time every process on the machine has used since boot (user, nice, system)."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    return sum(fields[:3] + fields[5:8]) / os.sysconf("SC_CLK_TCK")


def serve_fleet(args) -> None:
    """The server process: print the base URL, answer until terminated."""
    from mis_sync.connectors.integris.demo import generate_school
    from mis_sync.connectors.integris.fake import serve

    templates = [generate_school(n, seed=i) for i, n in enumerate(school_sizes())]
    network = Network(
        latency=args.latency_ms / 1000,
        mbit=args.mbit or None,
        max_in_flight=args.api_in_flight or None,
        retry_after=1.0,
    )
    with serve(FleetDatashare(templates, network=network)) as base_url:
        print(base_url, flush=True)
        signal.sigwait({signal.SIGTERM, signal.SIGINT})


def stats(base_url: str) -> dict:
    import httpx

    return httpx.get(base_url.removesuffix("/api") + "/stats").json()


def write_config(path: Path, database: str, base_url: str, schools: int, extra: str) -> list[str]:
    keys = [f"school{n:04}" for n in range(schools)]
    queue = f"fleet-{uuid.uuid4().hex}"
    lines = [f'database = "{database}"', f'broker = "{BROKER}"', f'queue = "{queue}"']
    for n, key in enumerate(keys):
        lines += [
            f"[schools.{key}]",
            'connector = "integris"',
            f'base_url = "{base_url}"',
            f'school_id = "S{n}"',
            f'client_id = "fleet-{n}"',
            f'client_secret_env = "{SECRET_ENV}"',
            *([extra] if extra else []),
        ]
    path.write_text("\n".join(lines) + "\n")
    return keys


class ConnectionWatch:
    """The most connections to one PostgreSQL database open at once, polled every 20 ms."""

    def __init__(self, url: str | None) -> None:
        self.url, self.peak = url, 0
        self._stop = threading.Event()

    @contextmanager
    def watching(self):
        if self.url is None:
            yield self
            return
        import psycopg
        from sqlalchemy import make_url

        url = make_url(self.url)
        conn = psycopg.connect(
            host=url.host, port=url.port, user=url.username, dbname=url.database, autocommit=True
        )
        self._stop.clear()
        thread = threading.Thread(target=self._poll, args=(conn,), daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join()
            conn.close()

    def _poll(self, conn) -> None:
        query = (
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        while not self._stop.is_set():
            self.peak = max(self.peak, conn.execute(query).fetchone()[0])
            self._stop.wait(0.02)


def fresh_store(database: str) -> None:
    """An empty store, its schema created before the clock starts."""
    from mis_sync.core.store import Store
    from tests.pgserver import drop_schema

    if database.startswith("sqlite:///"):
        path = Path(database.removeprefix("sqlite:///"))
        for leftover in path.parent.glob(f"{path.name}*"):
            if leftover.is_file():
                leftover.unlink()
    else:
        drop_schema(database)
    Store(database).close()


def outcome(database: str, keys: list[str]) -> dict[str, int]:
    """Per status, how many schools' latest run ended so; and how many runs per school."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT school, status FROM runs ORDER BY run")).all()
    engine.dispose()
    latest = dict(rows)
    counts: dict[str, int] = {}
    for key in keys:
        status = latest.get(key, "no run row")
        counts[status] = counts.get(status, 0) + 1
    return counts


def run_cli(
    config: Path, jobs: int, processes: int, env: dict, profile: str | None
) -> tuple[float, float, int, float]:
    """`mis-sync run integris --jobs N`, or `processes` of them at once, one per `--shard`.

    Returns the wall time, the peak RSS (summed over the processes: the whole run's), the
    worst exit code, and the CPU seconds of every process together."""
    argv = [sys.executable, "-m", "mis_sync.core.cli", "--config", str(config)]
    if profile:  # py-spy: collapsed stacks of the thread holding the GIL (it slows the run)
        spy = Path(sys.executable).parent / "py-spy"
        argv = [str(spy), "record", "--gil", "-r", "50", "-f", "raw", "-o", profile, "--", *argv]
    argv += ["run", "integris", "--jobs", str(jobs)]
    shards = (
        [[]]
        if processes == 1
        else [["--shard", f"{i}/{processes}"] for i in range(1, 1 + processes)]
    )
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            [*argv, *shard], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        for shard in shards
    ]
    errors = [proc.stderr.read().decode() for proc in procs]
    ended = [os.wait4(proc.pid, 0) for proc in procs]
    elapsed = time.perf_counter() - start
    codes = [os.waitstatus_to_exitcode(status) for _, status, _ in ended]
    for code, err in zip(codes, errors, strict=True):
        if code:
            lines = err.strip().splitlines()
            print(f"  exit {code}; {len(lines)} error lines, first: {lines[:1]}", file=sys.stderr)
    rss = sum(usage.ru_maxrss for _, _, usage in ended) / 1024
    return elapsed, rss, max(codes), sum(_cpu_seconds(usage) for _, _, usage in ended)


def run_workers(
    config: Path, workers: int, env: dict, database: str, keys: list[str], runs_each: int
) -> tuple[float, float, int]:
    """Dispatch every school and wait until each has `runs_each` finished runs."""
    from sqlalchemy import create_engine, text

    cli = [sys.executable, "-m", "mis_sync.core.cli", "--config", str(config)]
    worker = subprocess.Popen(
        [*cli, "worker", "--concurrency", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    engine = create_engine(database)
    query = text("SELECT count(*) FROM runs WHERE status <> 'running'")
    try:
        time.sleep(4)  # the worker's start-up is not part of the throughput
        start = time.perf_counter()
        dispatch = [*cli, "dispatch", "integris"]
        subprocess.run(dispatch, env=env, check=True, stdout=subprocess.DEVNULL)
        while True:
            with engine.connect() as conn:
                if conn.execute(query).scalar() >= len(keys) * runs_each:
                    break
            time.sleep(0.05)
        elapsed = time.perf_counter() - start
    finally:
        engine.dispose()
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait()
    peak = _largest_child_rss()
    return elapsed, peak, 0, None


def _largest_child_rss() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def bench(args, base_url: str, database: str, pg: str | None, work: Path) -> list[dict]:
    extra = f"page_limit = {args.page_limit}" if args.page_limit else ""
    config = work / "fleet.toml"
    keys = write_config(config, database, base_url, args.schools, extra)
    env = {
        **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
        SECRET_ENV: SECRET,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    rows = []
    for _ in range(args.repeat):
        fresh_store(database)
        for phase, runs_each in (("initial", 1), ("rerun", 2)):
            before, machine = stats(base_url), machine_cpu_seconds()
            watch = ConnectionWatch(pg)
            with watch.watching():
                if args.mode == "cli":
                    profile = f"{args.profile}-{phase}.txt" if args.profile else None
                    elapsed, rss, code, cpu = run_cli(
                        config, args.jobs, args.processes, env, profile
                    )
                else:
                    elapsed, rss, code, cpu = run_workers(
                        config, args.workers, env, database, keys, runs_each
                    )
            after, machine = stats(base_url), machine_cpu_seconds() - machine
            fake_cpu = after["cpu_s"] - before["cpu_s"]
            rows.append(
                {
                    "phase": phase,
                    "seconds": elapsed,
                    "per_minute": args.schools / elapsed * 60,
                    "rss_mb": rss,
                    "pg_connections": watch.peak,
                    "429s": after["rejected"] - before["rejected"],
                    "requests": after["requests"] - before["requests"],
                    "exit": code,
                    "outcome": outcome(database, keys),
                    "cpu": {
                        "sync": cpu,
                        "fake": fake_cpu,
                        "rest": machine - fake_cpu - (cpu or 0),
                    },
                }
            )
            r = rows[-1]
            print(
                f"  {phase:>7}: {elapsed:6.1f} s  {r['per_minute']:6.0f}/min  {rss:5.0f} MB"
                f"  pg {watch.peak:3}  429s {r['429s']}  requests {r['requests']}"
                f"  {r['outcome']}",
                flush=True,
            )
            print(
                f"           CPU s: sync {cpu or 0:.1f}, fake Datashare {fake_cpu:.1f}, the rest"
                f" of the machine (PostgreSQL, ...) {r['cpu']['rest']:.1f}"
                f" of {machine:.1f} ({machine / elapsed:.2f} cores busy)",
                flush=True,
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schools", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--mbit", type=float, default=100.0, help="shared link; 0: no cap")
    parser.add_argument(
        "--api-in-flight", type=int, default=4, help="the API's limit per client; 0: none"
    )
    parser.add_argument("--store", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--mode", choices=("cli", "workers"), default="cli")
    parser.add_argument("--jobs", type=int, default=16, help="--jobs of mis-sync run")
    parser.add_argument(
        "--processes", type=int, default=1, help="mis-sync run processes, one --shard each"
    )
    parser.add_argument("--workers", type=int, default=2, help="worker processes (--mode workers)")
    parser.add_argument("--page-limit", type=int, default=0, help="page_limit; 0: the default")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--profile", metavar="PREFIX", help="record each run with py-spy into PREFIX-PHASE.txt"
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.profile and args.processes > 1:
        parser.error("--profile records one process: leave --processes at 1")
    if args.serve:
        return serve_fleet(args)
    server = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.fleet", "--serve", *sys.argv[1:]],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        base_url = server.stdout.readline().strip()
        load = os.getloadavg()[0]
        cli = f"--jobs {args.jobs}" + (
            f" in each of {args.processes} processes (--shard)" if args.processes > 1 else ""
        )
        print(
            f"{args.schools} schools (sizes {school_sizes()[0]}-{school_sizes()[-1]} pupils),"
            f" {args.latency_ms:g} ms, {args.mbit:g} Mbit/s, API limit {args.api_in_flight}"
            f" per client; {args.store} store; {args.mode}"
            f" ({cli if args.mode == 'cli' else f'{args.workers} workers'});"
            f" load average {load:.1f}",
            flush=True,
        )
        with tempfile.TemporaryDirectory() as tmp:
            if args.store == "sqlite":
                rows = bench(args, base_url, f"sqlite:///{tmp}/fleet.db", None, Path(tmp))
            else:
                from tests.pgserver import scratch_database

                with scratch_database("mis_sync_fleet") as url:
                    rows = bench(args, base_url, url, url, Path(tmp))
    finally:
        server.terminate()
        server.wait()
    for phase in ("initial", "rerun"):
        of = [r for r in rows if r["phase"] == phase]
        print(
            f"{phase:>7} median: {statistics.median(r['per_minute'] for r in of):.0f} schools/min"
            f" ({statistics.median(r['seconds'] for r in of):.1f} s), peak"
            f" {max(r['rss_mb'] for r in of):.0f} MB,"
            f" pg connections {max(r['pg_connections'] for r in of)},"
            f" 429s {sum(r['429s'] for r in of)}"
        )


if __name__ == "__main__":
    main()
