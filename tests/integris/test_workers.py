"""Celery workers on the real brokers (RabbitMQ, Redis) and the real PostgreSQL store: several
schools from several fake Datashare servers on loopback, one worker killed mid-task, and every
school synced exactly once with nothing lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from mis_sync.connectors.integris.demo import generate_school
from mis_sync.connectors.integris.fake import Fault, serve
from mis_sync.core.cli import main
from mis_sync.core.store import Store

from ..conftest import reset_postgres
from .support import SECRET, SECRET_ENV, fake, options, sync

BROKERS = {
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672//",
    "redis": "redis://127.0.0.1:6379/0",
}
PUPILS = 40


@contextmanager
def schools(tmp_path: Path, pg_url: str, broker: str, count: int, delay: float):
    """`count` fake schools on loopback, each slow on one page, and a config naming them."""
    with ExitStack() as stack:
        servers = {}
        lines = [
            f'database = "{pg_url}"',
            f'broker = "{broker}"',
            f'queue = "test-{uuid.uuid4().hex}"',
        ]
        for n in range(count):
            key = f"school{n}"
            faults = [Fault(kind="delay", resource="classes", seconds=delay)] if delay else []
            servers[key] = fake(generate_school(PUPILS, seed=n), faults=faults)
            url = stack.enter_context(serve(servers[key]))
            lines += [
                f"[schools.{key}]",
                *(f'{k} = "{v}"' for k, v in options(base_url=url).items()),
            ]
        config = tmp_path / "mis-sync.toml"
        config.write_text("\n".join(lines) + "\n")
        yield config, servers


def start_worker(config: Path) -> subprocess.Popen:
    env = {**os.environ, SECRET_ENV: SECRET}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mis_sync.core.cli",
            "-v",
            "--config",
            str(config),
            "worker",
            "--concurrency",
            "2",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(config.with_suffix(f".{time.monotonic_ns()}.log"), "w"),
        start_new_session=True,
    )


def stop(worker: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, sig)
    worker.wait(timeout=30)


def wait_until_synced(store: Store, keys: list[str], log_dir: Path, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ok = {k: [r for r in store.runs(k) if r["status"] == "ok"] for k in keys}
        if all(ok.values()):
            return ok
        time.sleep(0.3)
    logs = "\n".join(
        line
        for p in sorted(log_dir.glob("*.log"))
        for line in p.read_text().splitlines()
        if "HTTP Request" not in line and "alembic" not in line
    )
    pytest.fail(f"not every school synced: { {k: store.runs(k) for k in keys} }\n{logs}")


def dispatch(config: Path):
    result = CliRunner().invoke(main, ["--config", str(config), "dispatch", "integris"])
    assert result.exit_code == 0, result.stderr
    return result


# a worker process starting on a busy machine (two suites at once) takes most of a minute;
# the wait's own deadline stays under the test's, so a failure prints the worker's log
@pytest.mark.timeout(150)
@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_dispatched_schools_are_synced_by_a_worker(tmp_path, pg_url, broker):
    reset_postgres(pg_url)
    with schools(tmp_path, pg_url, BROKERS[broker], 3, delay=0) as (config, _):
        worker = start_worker(config)
        try:
            assert "school2: queued as task" in dispatch(config).stdout
            store = Store(pg_url)
            ok = wait_until_synced(store, ["school0", "school1", "school2"], tmp_path, timeout=120)
            store.close()
        finally:
            stop(worker)
    for key, runs in ok.items():
        assert len(runs) == 1 and runs[0]["inserted"] > 50
        assert runs[0]["school"] == key


@pytest.mark.timeout(240)  # two worker start-ups and a requeue, on a machine that may be busy
def test_a_worker_killed_mid_task_loses_nothing_and_syncs_each_school_once(tmp_path, pg_url):
    """RabbitMQ requeues the unacknowledged tasks of a dead worker at once (acks_late)."""
    reset_postgres(pg_url)
    keys = [f"school{n}" for n in range(4)]
    with schools(tmp_path, pg_url, BROKERS["rabbitmq"], 4, delay=3) as (config, servers):
        first = start_worker(config)
        dispatch(config)
        try:
            # a worker's start-up (Celery, the broker connection) is slow on a busy machine:
            # two suites at once on two cores took over 30 s
            deadline = time.monotonic() + 90
            while not any(s.delayed.is_set() for s in servers.values()):
                if time.monotonic() > deadline:
                    logs = "\n".join(p.read_text() for p in sorted(tmp_path.glob("*.log")))
                    pytest.fail(f"no task started within 90 s; the worker said:\n{logs}")
                time.sleep(0.05)
            time.sleep(0.5)
        finally:
            stop(first, signal.SIGKILL)  # the worker and its pool, mid-task
        for server in servers.values():
            server.faults.clear()  # the second attempt is fast
        second = start_worker(config)
        try:
            store = Store(pg_url)
            ok = wait_until_synced(store, keys, tmp_path)
        finally:
            stop(second)
    # what one clean run of each school stores, counted independently
    expected = {key: sync(Store("sqlite:///:memory:"), servers[key])["inserted"] for key in keys}
    for key in keys:
        runs = store.runs(key)
        # synced exactly once: one run stored the school, whole; a re-delivered task that
        # came after it could only find nothing to change
        assert [r["inserted"] for r in ok[key] if r["inserted"]] == [expected[key]], runs
        assert all(r["updated"] == r["deleted"] == 0 for r in ok[key]), runs
        assert all(r["status"] in ("ok", "failed") for r in runs)
        assert all(
            r["message"] == "interrupted: the run died" for r in runs if r["status"] == "failed"
        )
    assert any(r["status"] == "failed" for k in keys for r in store.runs(k)), "no task was killed"
