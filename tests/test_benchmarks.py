"""The benchmark's floors still do what they claim, so a figure they print means something.

Timings are not tested here (benchmarks/ measures them); only that each floor fetches every
record and writes each once per school.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import floor
from benchmarks.serve import CLIENT_ID, SECRET
from mis_sync.connectors.integris.demo import DEMO_SCHOOL_ID, MIN_PUPILS, generate_school
from mis_sync.connectors.integris.fake import FakeDatashare, serve

ROOT = Path(__file__).resolve().parents[1]
SECRET_ENV = "TEST_BENCH_SECRET"


@pytest.fixture(scope="module")
def school():
    data = generate_school(MIN_PUPILS)
    app = FakeDatashare(data, school_id=DEMO_SCHOOL_ID, client_id=CLIENT_ID, client_secret=SECRET)
    with serve(app) as base_url:
        yield base_url, sum(len(records) for records in data.values())


def rows_per_school(database: Path) -> dict[int, int]:
    with sqlite3.connect(database) as db:
        return dict(db.execute("SELECT school, count(*) FROM raw GROUP BY school"))


def test_floor_writes_every_record_once_per_school(school, tmp_path, monkeypatch):
    base_url, records = school
    monkeypatch.setenv(SECRET_ENV, SECRET)
    database = tmp_path / "floor.db"
    assert floor.main(base_url, DEMO_SCHOOL_ID, CLIENT_ID, SECRET_ENV, str(database), "2") == 0
    assert rows_per_school(database) == {0: records, 1: records}


def test_paused_floor_is_the_same_floor(school, tmp_path):
    base_url, records = school
    database = tmp_path / "floor.db"
    subprocess.run(
        [sys.executable, "-m", "benchmarks.floor_paused", base_url, DEMO_SCHOOL_ID]
        + [CLIENT_ID, SECRET_ENV, str(database)],
        cwd=ROOT,
        env={**os.environ, SECRET_ENV: SECRET},
        check=True,
        capture_output=True,
    )
    assert rows_per_school(database) == {0: records}
