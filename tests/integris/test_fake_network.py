"""The fake's network is what the fleet benchmark's figures rest on: latency per request,
one shared link's bandwidth, and a per-client limit answered 429 + Retry-After."""

from __future__ import annotations

import threading
import time

import httpx

from mis_sync.connectors.integris.fake import Network, serve

from .support import CLIENT_ID, SCHOOL_ID, SECRET, SMALL, fake, small


def token(client: httpx.Client) -> dict:
    form = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": SECRET}
    answer = client.post("/oauth/token", data=form).json()
    return {"Authorization": f"Bearer {answer['access_token']}"}


def test_latency_is_added_to_every_request():
    with serve(fake(network=Network(latency=0.2))) as url, httpx.Client(base_url=url) as client:
        start = time.monotonic()
        token(client)
        assert time.monotonic() - start >= 0.2


def test_the_link_is_shared_by_every_answer():
    """Two answers of about 60 KB at 2 Mbit/s: about 0.25 s each, one after the other."""
    pupil = SMALL["students"][0]
    data = small(students=[{**pupil, "StudentID": f"{n:05}"} for n in range(300)])
    server = fake(data, network=Network(mbit=2))
    with serve(server) as url, httpx.Client(base_url=url, timeout=10) as client:
        headers = token(client)
        page = f"/v1/schools/{SCHOOL_ID}/students?limit=1000"
        size = len(client.get(page, headers=headers).content)
        start = time.monotonic()
        both = [threading.Thread(target=client.get, args=(page,), kwargs={"headers": headers})]
        both.append(threading.Thread(target=client.get, args=(page,), kwargs={"headers": headers}))
        for thread in both:
            thread.start()
        for thread in both:
            thread.join()
        assert time.monotonic() - start >= 2 * size * 8 / 2e6 * 0.95


def test_a_client_over_its_limit_is_told_to_wait():
    server = fake(network=Network(latency=0.3, max_in_flight=1, retry_after=2))
    with serve(server) as url, httpx.Client(base_url=url, timeout=10) as client:
        headers = token(client)
        page = f"/v1/schools/{SCHOOL_ID}/staff"
        slow = threading.Thread(target=client.get, args=(page,), kwargs={"headers": headers})
        slow.start()
        time.sleep(0.1)  # the first is in flight
        second = client.get(page, headers=headers)
        slow.join()
    assert second.status_code == 429 and second.headers["Retry-After"] == "2"
    assert server.rejected == 1 and server.peak_in_flight[CLIENT_ID] == 1
