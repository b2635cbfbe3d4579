"""Time the floor, an initial `mis-sync run` and an unchanged re-run, as whole processes.

    python -m benchmarks.bench                      # 500, 2,000 and 8,000 pupils, 5 runs each
    python -m benchmarks.bench --pupils 2000 --repeat 7

For each size a fake Datashare serves a generated school on loopback (pages of 1000) from a
process of its own. Each measured command is a fresh process; wall time is the median of the
runs, memory the largest peak RSS (from wait4). Ratios are to the floor of the same size.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .serve import CLIENT_ID, SECRET

SECRET_ENV = "BENCH_DATASHARE_SECRET"
ROOT = Path(__file__).resolve().parents[1]
# An installed mis-sync runs from bytecode (pip compiles at install); a shell that sets
# PYTHONDONTWRITEBYTECODE would make every measured process compile the repo's modules again.
ENV = {
    **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
    SECRET_ENV: SECRET,
    "PYTHONPATH": str(ROOT),
}
MIS_SYNC = [sys.executable, "-m", "mis_sync.core.cli"]
SCRIPT = Path(sys.executable).parent / "mis-sync"  # the console script of this environment


def measure(argv: list[str], cwd: Path) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of one whole process."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(argv)}\n{proc.stderr.read().decode()}")
    return elapsed, usage.ru_maxrss / 1024


def write_config(path: Path, db: Path, base_url: str, keys: list[str]) -> None:
    schools = "".join(
        f'\n[schools.{key}]\nconnector = "integris"\nbase_url = "{base_url}"\n'
        f'school_id = "1001"\nclient_id = "{CLIENT_ID}"\nclient_secret_env = "{SECRET_ENV}"\n'
        "page_limit = 1000\nmass_delete_threshold = 1.0\n"
        for key in keys
    )
    path.write_text(f'database = "sqlite:///{db}"\n{schools}')


def fresh(db: Path) -> None:
    for leftover in db.parent.glob(f"{db.name}*"):
        shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()


def bench_size(pupils: int, repeat: int, schools: int, work: Path) -> dict:
    server = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.serve", "--pupils", str(pupils)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        base_url = server.stdout.readline().strip()
        db, many_db = work / f"sync-{pupils}.db", work / f"many-{pupils}.db"
        config, many = work / f"bench-{pupils}.toml", work / f"many-{pupils}.toml"
        write_config(config, db, base_url, ["bench"])
        write_config(many, many_db, base_url, [f"bench{n}" for n in range(schools)])
        run = [str(SCRIPT), "--config", str(config), "run", "integris", "--school", "bench"]
        run_many = [str(SCRIPT), "--config", str(many), "run", "integris"]
        floor_db = work / f"floor-{pupils}.db"
        floor_args = [base_url, "1001", CLIENT_ID, SECRET_ENV, str(floor_db)]
        floor = [sys.executable, "-m", "benchmarks.floor", *floor_args]
        floor_paused = [sys.executable, "-m", "benchmarks.floor_paused", *floor_args]
        floor_many = [*floor, str(schools)]
        results = {k: [] for k in ("floor", "floor_paused", "initial", "rerun")}
        results |= {k: [] for k in ("floor_many", "initial_many", "rerun_many")}
        for _ in range(repeat):
            for key, argv in (("floor", floor), ("floor_paused", floor_paused)):
                fresh(floor_db)
                results[key].append(measure(argv, work))
            fresh(db)
            results["initial"].append(measure(run, work))
            results["rerun"].append(measure(run, work))
            if schools > 1:
                fresh(floor_db)
                results["floor_many"].append(measure(floor_many, work))
                fresh(many_db)
                results["initial_many"].append(measure(run_many, work))
                results["rerun_many"].append(measure(run_many, work))
        rerun, initial = json.loads(
            subprocess.run(
                [str(SCRIPT), "--config", str(config), "runs", "--json"],
                env=ENV,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )[:2]
        written = rerun["inserted"] + rerun["updated"] + rerun["deleted"]
    finally:
        server.terminate()
        server.wait()
    summary = {
        k: (statistics.median(t for t, _ in v), max(m for _, m in v))
        for k, v in results.items()
        if v
    }
    return {
        "pupils": pupils,
        "records": initial["inserted"],
        "rerun_rows_written": written,
        **summary,
    }


def startup(repeat: int, work: Path) -> float:
    return statistics.median(measure([str(SCRIPT), "--help"], work)[0] for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pupils", type=int, nargs="*", default=[500, 2000, 8000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--schools",
        type=int,
        default=6,
        help="also time this many schools in one process, for the cost of one more (1: skip)",
    )
    args = parser.parse_args()
    for package in ("core", "connectors", "benchmarks"):
        compileall.compile_dir(ROOT / package, quiet=1)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows = [bench_size(n, args.repeat, args.schools, work) for n in args.pupils]
        help_time = startup(args.repeat * 2, work)
    head = (
        "pupils",
        "records",
        "floor s",
        "floor-gc s",
        "initial s",
        "x floor",
        "x floor-gc",
        "rerun s",
        "x floor",
        "x floor-gc",
        "rerun rows",
        "floor MB",
        "initial MB",
        "rerun MB",
    )
    print(" ".join(f"{h:>10}" for h in head))
    for r in rows:
        f, p, i, u = r["floor"], r["floor_paused"], r["initial"], r["rerun"]
        cells = (
            r["pupils"],
            r["records"],
            f"{f[0]:.3f}",
            f"{p[0]:.3f}",
            f"{i[0]:.3f}",
            f"{i[0] / f[0]:.2f}",
            f"{i[0] / p[0]:.2f}",
            f"{u[0]:.3f}",
            f"{u[0] / f[0]:.2f}",
            f"{u[0] / p[0]:.2f}",
            r["rerun_rows_written"],
            f"{f[1]:.0f}",
            f"{i[1]:.0f}",
            f"{u[1]:.0f}",
        )
        print(" ".join(f"{c:>10}" for c in cells))
    print(
        "floor-gc: the floor with a run's garbage-collector settings (benchmarks/floor_paused.py)"
    )
    if args.schools > 1:
        print_one_more(rows, args.schools)
    print(f"startup: mis-sync --help median {help_time:.3f} s")


TOO_SMALL = 0.02  # seconds: a difference of medians this small is mostly the host's noise


def print_one_more(rows: list[dict], schools: int) -> None:
    """What one more school costs a started process: (time for N - time for 1) / (N - 1).

    No ratio where the floor's share is under TOO_SMALL: dividing by noise says nothing.
    """
    print(f"\none more school, in a process that syncs {schools} (--jobs 1):")
    print(
        " ".join(
            f"{h:>10}" for h in ("pupils", "floor s", "initial s", "x floor", "rerun s", "x floor")
        )
    )
    for r in rows:
        one = {
            k: (r[f"{k}_many"][0] - r[k][0]) / (schools - 1) for k in ("floor", "initial", "rerun")
        }
        cells = (
            r["pupils"],
            f"{one['floor']:.3f}",
            f"{one['initial']:.3f}",
            ratio(one["initial"], one["floor"]),
            f"{one['rerun']:.3f}",
            ratio(one["rerun"], one["floor"]),
        )
        print(" ".join(f"{c:>10}" for c in cells))


def ratio(part: float, floor: float) -> str:
    return f"{part / floor:.2f}" if floor >= TOO_SMALL else "-"


if __name__ == "__main__":
    main()
