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


def bench_size(pupils: int, repeat: int, work: Path) -> dict:
    server = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.serve", "--pupils", str(pupils)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        base_url = server.stdout.readline().strip()
        db = work / f"sync-{pupils}.db"
        config = work / f"bench-{pupils}.toml"
        config.write_text(
            f'database = "sqlite:///{db}"\n\n[schools.bench]\nconnector = "integris"\n'
            f'base_url = "{base_url}"\nschool_id = "1001"\nclient_id = "{CLIENT_ID}"\n'
            f'client_secret_env = "{SECRET_ENV}"\npage_limit = 1000\n'
            "mass_delete_threshold = 1.0\n"
        )
        run = [str(SCRIPT), "--config", str(config), "run", "integris", "--school", "bench"]
        floor_db = work / f"floor-{pupils}.db"
        floor = [
            sys.executable,
            "-m",
            "benchmarks.floor",
            base_url,
            "1001",
            CLIENT_ID,
            SECRET_ENV,
            str(floor_db),
        ]
        results = {"floor": [], "initial": [], "rerun": []}
        for _ in range(repeat):
            floor_db.unlink(missing_ok=True)
            results["floor"].append(measure(floor, work))
            for leftover in work.glob(f"sync-{pupils}.db*"):
                shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
            results["initial"].append(measure(run, work))
            results["rerun"].append(measure(run, work))
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
        k: (statistics.median(t for t, _ in v), max(m for _, m in v)) for k, v in results.items()
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
    args = parser.parse_args()
    for package in ("core", "connectors", "benchmarks"):
        compileall.compile_dir(ROOT / package, quiet=1)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows = [bench_size(n, args.repeat, work) for n in args.pupils]
        help_time = startup(args.repeat * 2, work)
    head = (
        "pupils",
        "records",
        "floor s",
        "initial s",
        "x floor",
        "rerun s",
        "x floor",
        "rerun rows",
        "floor MB",
        "initial MB",
        "rerun MB",
    )
    print(" ".join(f"{h:>10}" for h in head))
    for r in rows:
        f, i, u = r["floor"], r["initial"], r["rerun"]
        cells = (
            r["pupils"],
            r["records"],
            f"{f[0]:.3f}",
            f"{i[0]:.3f}",
            f"{i[0] / f[0]:.2f}",
            f"{u[0]:.3f}",
            f"{u[0] / f[0]:.2f}",
            r["rerun_rows_written"],
            f"{f[1]:.0f}",
            f"{i[1]:.0f}",
            f"{u[1]:.0f}",
        )
        print(" ".join(f"{c:>10}" for c in cells))
    print(f"startup: mis-sync --help median {help_time:.3f} s")


if __name__ == "__main__":
    main()
