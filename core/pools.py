"""One thread pool per process for the requests a run makes at once (a school's resources).

A pool per school started six threads for every school and waited for each to start: with
`--jobs 16` a new thread waits for the GIL before it can say it has started, so a fleet run
spent 6% of its time in `Thread.start`. Idle threads of this pool serve the next school. It
is unbounded in practice (threads are only made when none is idle), because how many
requests are in flight is bounded elsewhere (core/http.py's per-school and per-host limits),
and a bound here would make one school's resources wait for another school's. A forked
process (a Celery prefork worker) gets a pool of its own: threads do not survive a fork.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

MAX_THREADS = 512
_lock = threading.Lock()
_pool: tuple[int, ThreadPoolExecutor] | None = None


def requests_pool() -> ThreadPoolExecutor:
    """This process's pool (made on first use)."""
    global _pool
    with _lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (os.getpid(), ThreadPoolExecutor(MAX_THREADS, thread_name_prefix="requests"))
        return _pool[1]
