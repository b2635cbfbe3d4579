"""The repeated-cursor guard (datashare-wire.md: a run follows next_cursor until it is null):
a server whose cursors go round in a circle fails the run, naming resource and page.

Without the guard the client would page forever, so each test bounds the server itself: past
a few dozen pages it raises `Runaway`, which no handler of the client or pipeline catches,
so a missing guard is a quick failure, not a hang or a run that eats memory.
"""

from __future__ import annotations

import httpx
import msgspec
import pytest

from mis_sync.connectors.integris import wire
from mis_sync.connectors.integris.fake import Fault
from mis_sync.core import pipeline
from mis_sync.core.config import Config
from mis_sync.core.errors import SourceError

from .support import SCHOOL_ID, fake, options

MAX_PAGES = 40


class Runaway(BaseException):
    """The client asked for far more pages than the school has: the guard did not stop it."""


def bounded(handle):
    pages = []

    def counted(request: httpx.Request) -> httpx.Response:
        if "/v1/" in request.url.path:
            pages.append(request.url)
            if len(pages) > MAX_PAGES:
                raise Runaway(f"{len(pages)} pages requested; last {request.url}")
        return handle(request)

    return httpx.MockTransport(counted)


def run(store, transport) -> str:
    school, pm = pipeline.prepare(Config(schools={"oak": options(page_limit=1)}), "oak")
    with pytest.raises(SourceError) as failed:
        pipeline.run_school(store, school, pm, transport=transport)
    assert store.export("oak", "students", {}) == []
    assert store.runs("oak")[0]["status"] == "failed"
    return str(failed.value)


def test_a_cursor_pointing_back_at_its_own_page_fails_the_run(store):
    inner = fake(faults=[Fault(kind="loop_cursor", resource="contacts", page=2)]).transport()

    def handle(request):
        response = inner.handle_request(request)
        response.read()
        return response

    message = run(store, bounded(handle))
    assert message == (
        "contacts page 2: next_cursor repeats an earlier cursor; stopped instead of looping"
    )


@pytest.mark.parametrize("cycle", [["a", "b"], ["a", "b", "c"]], ids=["two", "three"])
def test_cursors_going_round_a_longer_circle_fail_the_run(store, cycle):
    """Page 1 → a → b (→ c) → a ...: no cursor repeats the one just used, yet it never ends."""
    encode = msgspec.json.encode

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/oauth/token"):
            return httpx.Response(200, content=encode({"access_token": "t" * 20}))
        assert f"/v1/schools/{SCHOOL_ID}/" in request.url.path
        cursor = request.url.params.get("cursor")
        following = cycle[0] if cursor is None else cycle[(cycle.index(cursor) + 1) % len(cycle)]
        page = {"data": [], "meta": {"next_cursor": following, "total": 0}}
        return httpx.Response(200, content=encode(page))

    message = run(store, bounded(handle))
    # every resource goes round the circle; the first to see it stops the others, so the
    # run's error names whichever that was (the resources are fetched at once)
    resource, _, rest = message.partition(" page ")
    assert resource in wire.RESOURCES, message
    assert rest == (
        f"{len(cycle) + 1}: next_cursor repeats an earlier cursor; stopped instead of looping"
    )
