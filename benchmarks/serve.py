"""Serve a generated school from the fake Datashare on loopback, until interrupted.

    python -m benchmarks.serve --pupils 2000 --port 8790

Runs in its own process so the server's work is never counted against the sync it feeds.
"""

from __future__ import annotations

import argparse
import sys
import time

from mis_sync.connectors.integris.demo import DEMO_SCHOOL_ID, generate_school
from mis_sync.connectors.integris.fake import FakeDatashare, serve

CLIENT_ID = "bench-client"
SECRET = "bench-secret"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pupils", type=int, default=2000)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    app = FakeDatashare(
        generate_school(args.pupils),
        school_id=DEMO_SCHOOL_ID,
        client_id=CLIENT_ID,
        client_secret=SECRET,
        default_limit=1000,
    )
    with serve(app, port=args.port) as base_url:
        print(base_url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            sys.exit(0)


if __name__ == "__main__":
    main()
