"""The floor with the garbage-collector treatment a run gets (core/collector.py, cli/running.py).

A run imports its modules with the cyclic collector off, freezes them, and works with the
collector off, which spares it the passes over every imported object (the last one at exit
included). The plain floor pays those passes: about 30 ms at 2,000 pupils. Against this floor
the ratio compares work with work, not collector settings.

    python -m benchmarks.floor_paused BASE_URL SCHOOL_ID CLIENT_ID SECRET_ENV DATABASE [SCHOOLS]
"""

import gc
import sys

if __name__ == "__main__":
    gc.disable()
    from . import floor  # httpx, msgspec, sqlite3 and the wire Structs, as the plain floor

    gc.freeze()
    sys.exit(floor.main(*sys.argv[1:7]))
