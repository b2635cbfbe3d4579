"""Peak memory and time of `mis-sync run` against a hostile Datashare, next to a clean run.

    python -m benchmarks.hostile                    # a 2,000-pupil school, default limits
    python -m benchmarks.hostile --pupils 500 --bomb-mb 4096

Each case is a fresh `mis-sync run` process against connectors/integris/hostile.py on
loopback (the server runs in this process; memory is the run's own peak RSS, from wait4).
The limits are the defaults of core/limits.py, except where a case names one: a trickled
body would otherwise take the default request_deadline (2 minutes) to fail. What a case
should show is that the run ends with exit 1 and a peak that stays near the clean run's,
whatever the source sends: proportional to the school and the caps, not to the attack.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mis_sync.connectors.integris.demo import DEMO_SCHOOL_ID, generate_school
from mis_sync.connectors.integris.fake import FakeDatashare, serve
from mis_sync.connectors.integris.hostile import HostileDatashare

from .serve import CLIENT_ID, SECRET

SECRET_ENV = "BENCH_DATASHARE_SECRET"
SCRIPT = Path(sys.executable).parent / "mis-sync"


def cases(bomb_mb: int) -> list[tuple[str, dict, dict]]:
    """(label, hostile behaviour, school options beyond the defaults)."""
    return [
        ("clean", {}, {}),
        (f"gzip bomb {bomb_mb:,} MB", {"gzip_bomb": bomb_mb * 1024 * 1024}, {}),
        ("endless cursor, same page", {"endless": "same", "total": None}, {}),
        ("endless cursor, new records", {"endless": "new", "total": None}, {}),
        ("endless cursor, meta.total", {"endless": "new"}, {}),
        ("meta.total moves", {"total": "drift"}, {"page_limit": 100}),
        ("nested 100,000 levels", {"nested": 100_000}, {}),
        ("trickled body", {"trickle": 0.01, "endless_body": True}, {"request_deadline": 3}),
    ]


def run_case(data: dict, behaviour: dict, options: dict, work: Path) -> tuple:
    fake = FakeDatashare(data, school_id=DEMO_SCHOOL_ID, client_id=CLIENT_ID, client_secret=SECRET)
    app = HostileDatashare(fake, **behaviour)
    app.warm(limit=options.get("page_limit", 1000))
    db = work / "hostile.db"
    for leftover in work.glob("hostile.db*"):
        if leftover.is_file():
            leftover.unlink()
    with serve(app) as base_url:
        config = work / "hostile.toml"
        extra = "".join(f"{k} = {v}\n" for k, v in {"page_limit": 1000, **options}.items())
        config.write_text(
            f'database = "sqlite:///{db}"\n\n[schools.bench]\nconnector = "integris"\n'
            f'base_url = "{base_url}"\nschool_id = "{DEMO_SCHOOL_ID}"\n'
            f'client_id = "{CLIENT_ID}"\nclient_secret_env = "{SECRET_ENV}"\n{extra}'
        )
        started = time.perf_counter()
        proc = subprocess.Popen(
            [str(SCRIPT), "--config", str(config), "run", "integris"],
            env={**os.environ, SECRET_ENV: SECRET},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        message = proc.stderr.read().strip().splitlines()
    code = os.waitstatus_to_exitcode(status)
    return code, seconds, usage.ru_maxrss / 1024, (message[-1] if message else "")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pupils", type=int, default=2000)
    parser.add_argument("--bomb-mb", type=int, default=1024, help="inflated size of the bomb")
    args = parser.parse_args()
    data = generate_school(args.pupils)
    print(f"{'case':<30} {'exit':>4} {'s':>7} {'peak MB':>8}  message")
    with tempfile.TemporaryDirectory() as tmp:
        for label, behaviour, options in cases(args.bomb_mb):
            code, seconds, peak, message = run_case(data, behaviour, options, Path(tmp))
            print(f"{label:<30} {code:>4} {seconds:>7.2f} {peak:>8.0f}  {message[:110]}")


if __name__ == "__main__":
    main()
