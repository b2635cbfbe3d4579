"""Runs as Celery tasks, one per school, for trusts and authorities with many schools.

A task carries only the config file's path and the school's key: the worker reads the config
(and the secrets from its own environment) itself, so nothing secret crosses the broker.
Delivery is at least once (`acks_late`, `task_reject_on_worker_lost`), which is safe because a
run is idempotent: a re-delivered task either finds the school's lock held or finds nothing
to change. Only failures that a later try may pass are retried (`retry_after`).
"""

from __future__ import annotations

from pathlib import Path

from celery import Celery

from . import pipeline
from .config import Config, load_config
from .errors import ConfigError, LockLost, SchoolBusy, SourceError
from .store import Store

TASK_TIME_LIMIT = 30 * 60  # a school that takes half an hour is stuck, not slow
RETRY_DELAYS = (30, 120, 600)  # seconds before each retry of a transient failure

app = Celery("mis_sync")
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_time_limit=TASK_TIME_LIMIT,
    task_soft_time_limit=TASK_TIME_LIMIT - 60,
    task_serializer="json",
    accept_content=["json"],
    result_backend=None,
    task_ignore_result=True,
    # Redis redelivers an unacknowledged task after this; RabbitMQ as soon as the worker's
    # connection drops. Longer than any run, shorter than an operator's patience.
    broker_transport_options={"visibility_timeout": TASK_TIME_LIMIT + 60},
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,  # mis-sync -v decides what is logged, to stderr
    worker_redirect_stdouts=False,
)


_stores: dict[str, Store] = {}  # this worker process's stores, by database URL


def store_for(database: str) -> Store:
    """This process's Store for `database`, built (engine, checked schema) at its first task.

    Building one costs about 16 ms a task; keeping it is safe because a prefork worker
    builds it in the child process, after the fork, so no connection crosses processes.
    """
    store = _stores.get(database)
    if store is None:
        store = _stores[database] = Store(database)
    return store


def configure(config: Config) -> Celery:
    """Point the app at the config's broker and queue.

    Nothing else changes: each task carries its config's path, so neither a worker nor the
    process that dispatches needs the config in its environment.
    """
    if not config.broker:
        raise ConfigError(
            f"{config.path or 'config'}: `broker` is not set (e.g. redis://127.0.0.1:6379/0)"
        )
    app.conf.broker_url = config.broker
    app.conf.task_default_queue = config.queue
    return app


@app.task(bind=True, name="mis_sync.sync_school", max_retries=len(RETRY_DELAYS))
def sync_school(self, config_path: str, key: str, dry_run: bool = False) -> dict:
    """One school's run, recorded in the same `runs` table as a run from the command line."""
    config = load_config(Path(config_path))
    store = store_for(config.database)
    try:
        school, pm = pipeline.prepare(config, key)
        origin = f"worker:{self.request.hostname or 'celery'}"
        return pipeline.run_school(store, school, pm, origin=origin, dry_run=dry_run)
    except SchoolBusy as exc:
        # Another run of this school is going on (or a duplicate delivery of this task):
        # it will bring the school up to date; nothing to do.
        return {"school": key, "status": "busy", "message": str(exc)}
    except (SourceError, LockLost) as exc:
        delay = retry_after(exc, self.request.retries)
        if delay is not None:
            raise self.retry(exc=exc, countdown=delay) from None
        raise


def retry_after(exc: BaseException, retries: int) -> int | None:
    """Seconds before the task tries the school again, or None to fail it now.

    Retried, a bounded number of times: a transient source failure (the MIS kept answering
    429/5xx or could not be reached) and a run whose school lock died before its commit
    (LockLost: the lock's database connection was closed by a restart or a failover). Both
    stored nothing, and both may pass a few minutes later. Anything else (a permanent
    source failure, a config error, a safeguard) fails the same way every time.
    """
    if retries >= len(RETRY_DELAYS):
        return None
    if isinstance(exc, LockLost) or (isinstance(exc, SourceError) and exc.transient):
        return RETRY_DELAYS[retries]
    return None


def dispatch(config: Config, keys: list[str]) -> list[str]:
    """Enqueue one task per school; returns the task ids."""
    path = str(Path(config.path).resolve())
    # an explicit connection: the app's pool would keep the first broker it was ever given
    with app.connection_for_write(config.broker) as connection:
        return [
            sync_school.apply_async((path, key), connection=connection, queue=config.queue).id
            for key in keys
        ]
