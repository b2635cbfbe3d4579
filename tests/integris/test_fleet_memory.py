"""A fleet run keeps only the schools in flight in memory, not every school it has synced.

Runs pause the cyclic collector while any of them works, so with --jobs the runs overlap
and, left alone, the collector never runs; what forms cycles (httpx's responses, their
bodies and connections) would then pile up school after school.
"""

from __future__ import annotations

import gc

from mis_sync.connectors.integris.fake import serve
from mis_sync.core import collector, pipeline
from mis_sync.core.config import Config
from mis_sync.core.store import Store

from .support import fake, options


def cyclic_garbage_after(schools: int, url: str, tmp_path) -> int:
    store = Store(f"sqlite:///{tmp_path / f'{schools}.db'}", jobs=2)
    keys = [f"school{n}" for n in range(schools)]
    config = Config(schools={k: options(base_url=url) for k in keys})
    gc.collect()
    with collector.paused():  # as if another run were always in flight
        pipeline.run_schools(store, config, keys, connector="integris", jobs=2)
        left = gc.collect()
    store.close()
    return left


def test_cyclic_garbage_stays_that_of_the_schools_in_flight(tmp_path):
    with serve(fake()) as url:
        one = cyclic_garbage_after(1, url, tmp_path)  # one school, no collection yet
        many = cyclic_garbage_after(12, url, tmp_path)
    assert one > 0  # there is some: the test can see a pile-up
    assert many <= 2 * one  # twelve schools leave no more than two would
