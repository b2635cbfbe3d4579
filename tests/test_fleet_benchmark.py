"""The fleet benchmark's fake serves what it claims: many schools, one client each, sizes of
a real trust; so a figure it prints means something. Timings are not tested here."""

from __future__ import annotations

import statistics

import httpx

from benchmarks.fleet import SECRET, FleetDatashare, school_sizes, stats
from mis_sync.connectors.integris.demo import generate_school
from mis_sync.connectors.integris.fake import Network, serve


def test_school_sizes_are_those_of_a_trust():
    sizes = school_sizes()
    assert min(sizes) >= 300 and max(sizes) <= 2000
    assert 600 <= statistics.mean(sizes) <= 700


def test_each_school_id_has_its_own_school_and_client():
    templates = [generate_school(30, seed=0), generate_school(40, seed=1)]
    app = FleetDatashare(templates, network=Network())
    with serve(app) as url, httpx.Client(base_url=url) as client:

        def students(n: int) -> int:
            form = {"grant_type": "client_credentials", "client_id": f"fleet-{n}"}
            token = client.post("/oauth/token", data={**form, "client_secret": SECRET})
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            page = client.get(f"/v1/schools/S{n}/students?limit=1000", headers=headers)
            return len(page.json()["data"])

        assert students(0) == students(2) == len(templates[0]["students"])
        assert students(1) == len(templates[1]["students"])
        bad = {"grant_type": "client_credentials", "client_id": "other", "client_secret": SECRET}
        assert client.post("/oauth/token", data=bad).status_code == 401
        assert stats(url)["requests"] == 7 and stats(url)["rejected"] == 0
