"""Commands that sync: `run`, and `worker` and `dispatch` for Celery."""

from __future__ import annotations

import sys

import click

from . import LOOKED_AT, Context, command, demo_database, demo_key, reader_left
from .output import Progress, SchoolsProgress, print_json, print_summary


def _import_pipeline(*, tls: bool):
    """Import the run's modules (SQLAlchemy, httpx, ...) with the cyclic GC off, then freeze them.

    With `tls`, the TLS context is built on another thread meanwhile (core/http.py).

    These imports build a large graph of long-lived objects and no garbage. Left to the
    collector, that graph is walked by every full collection, the one at interpreter exit
    included: about a fifth of an unchanged re-run of a 2,000-pupil school (see
    benchmarks/). Done once per process, so tests that call the CLI many times freeze once.
    Cyclic garbage not yet collected at that moment (a few hundred objects from the imports,
    or a host process's own) is frozen with the rest: a one-off, bounded cost.
    """
    import gc

    from .. import collector

    if tls:
        from .. import tls

        tls.preload_tls()
    if "mis_sync.core.pipeline" not in sys.modules:
        with collector.paused():
            from .. import pipeline  # noqa: F401

            gc.freeze()  # before the collector is back: its first pass would walk them all
    return sys.modules["mis_sync.core.pipeline"]


@command()
@click.argument("connector")
@click.option("--school", help="Only this school (default: every school using CONNECTOR).")
@click.option("--demo", is_flag=True, help="Sync the connector's demo school (own database).")
@click.option("--dry-run", is_flag=True, help="Fetch and diff, but write nothing at all.")
@click.option(
    "--allow-mass-delete", is_flag=True, help="Let through a run that deletes many records."
)
@click.option("--wait", is_flag=True, help="Wait for another run of the same school to finish.")
@click.option(
    "--jobs",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Schools synced at once.",
)
@click.option(
    "--shard",
    metavar="I/N",
    help="Only the I-th of N equal shares of the schools (1/2, 2/2: two processes).",
)
def run(ctx: Context, connector, school, demo, dry_run, allow_mass_delete, wait, jobs, shard):
    """Run one sync: fetch, map, filter, diff and store."""
    pipeline = _import_pipeline(tls=not demo)  # the demo's fake needs no TLS
    from .. import plugins
    from ..config import Config
    from ..errors import ConfigError

    config = ctx.config
    share = _shard(shard, school, demo)
    plugins.require_installed(connector)  # before anything else: `run intgris` is a typo
    transport = None
    if demo:
        found = plugins.manager(connector).hook.mis_sync_demo()
        if found is None:
            raise ConfigError(f"connector {connector!r} has no demo school")
        key = demo_key(connector)
        config = Config(database=demo_database(), schools={key: found.options})
        transport = found.transport
        keys = [key]
    elif school is not None:
        keys = [ctx.school_key(school)]
    else:
        keys = sorted(k for k, v in config.schools.items() if v.get("connector") == connector)
        if not keys:
            raise ConfigError(_no_school_uses(config, connector))
        if share is not None:
            index, count = share
            keys = keys[index - 1 :: count]
            if not keys:
                raise ConfigError(
                    f"--shard {shard}: no school is in this share of the {connector} schools"
                )
    store = pipeline.open_store(config.database, dry_run=dry_run, jobs=min(jobs, len(keys)))
    options = dict(
        transport=transport, dry_run=dry_run, allow_mass_delete=allow_mass_delete, wait=wait
    )
    try:
        _run(ctx, pipeline, store, config, keys, connector, jobs, demo, options)
    except KeyboardInterrupt:
        _interrupted(store, keys)
    finally:
        _exit_uninterrupted()


def _shard(text: str | None, school: str | None, demo: bool) -> tuple[int, int] | None:
    """`--shard I/N`: the schools at positions I, I+N, I+2N, ... of the sorted keys.

    Why: one process syncs on about one core (the GIL); N processes, one per share, use N
    cores (docs/scaling.md). Shares are fixed by the config alone, so N cron lines with
    1/N ... N/N sync every school exactly once, whatever order they start in.
    """
    from ..errors import ConfigError

    if text is None:
        return None
    if school is not None or demo:
        raise ConfigError("--shard takes a share of every school; not with --school or --demo")
    index, _, count = text.partition("/")
    # at most 4 digits each: N is at most 1000, and int() of thousands of digits raises
    ascii_digits = all(p.isascii() and p.isdigit() and len(p) <= 4 for p in (index, count))
    if not (ascii_digits and 1 <= int(index) <= int(count) <= 1000):
        raise ConfigError(f"--shard {text!r}: give I/N with 1 <= I <= N <= 1000, e.g. 1/2")
    return int(index), int(count)


def _exit_uninterrupted() -> None:
    """Once the runs are over and reported, a Ctrl-C may still land in the interpreter's
    exit, where Python has restored the default SIGINT action: the process would die with
    exit 130 after printing an `ok` run (2 of 30 trials on PostgreSQL). Ignore it there only."""
    import atexit

    atexit.unregister(_ignore_sigint)
    atexit.register(_ignore_sigint)


def _ignore_sigint() -> None:
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _interrupted(store, keys: list[str]) -> None:
    """A Ctrl-C may land after a run's commit, anywhere: the runs table says what is stored."""
    stored = [run for run in store.started.values() if store.run(run)["status"] == "ok"]
    if not stored:
        raise KeyboardInterrupt
    runs = ", ".join(str(run) for run in sorted(stored))
    if len(stored) == len(keys):
        click.echo(f"mis-sync: interrupted after run {runs} was stored", err=True)
        sys.exit(0)
    click.echo(
        f"mis-sync: interrupted; stored: run {runs}; the other schools stored nothing", err=True
    )
    sys.exit(1)


def _run(ctx, pipeline, store, config, keys, connector, jobs, demo, options):
    """The runs and what they print; `run` wraps this to report a Ctrl-C truthfully."""
    from ..errors import MisSyncError, SafeguardStop

    if len(keys) == 1:  # one school: its error is the command's error
        sch, pm = pipeline.prepare(config, keys[0], expect=connector)
        try:
            with Progress(keys[0], ctx.json or ctx.quiet) as progress:
                result = pipeline.run_school(store, sch, pm, progress=progress, **options)
        except MisSyncError as exc:  # scripts get the run's object whatever the outcome
            if ctx.json and not ctx.quiet:
                print_json(pipeline.failed_result(store, keys[0], connector, exc))
            raise
        # a dry run the safeguard would stop exits as the real run would (3), having shown it
        stop = result["status"] == "dry-run" and bool(result["message"])
        result["exit_code"] = SafeguardStop.exit_code if stop else 0
        if ctx.json and not ctx.quiet:
            print_json(result)
        elif not ctx.quiet:
            print_summary(result)
            if demo:
                click.echo(f"  stored in the demo database {store.where}")
        if stop:
            sys.exit(SafeguardStop.exit_code)
        return None
    shown = SchoolsProgress(len(keys), ctx.json or ctx.quiet)
    with shown as finished:
        results = pipeline.run_schools(
            store, config, keys, connector=connector, jobs=jobs, finished=finished, **options
        )
    for failed in (r for r in results if r["exit_code"]):
        click.echo(f"mis-sync: error: {failed['message']}", err=True)
    try:
        if ctx.quiet or shown.live:  # on a terminal, each school was shown as it finished
            pass
        elif ctx.json:
            print_json(results)
        else:
            for result in results:
                print_summary(result)
    except BrokenPipeError:  # the exit code still says how the schools went
        if not reader_left():
            raise
    sys.exit(max(r["exit_code"] for r in results))


def _no_school_uses(config, connector: str) -> str:
    """With a config, say what it holds (never steer towards --demo); without, say where we
    looked, and that --demo is there to try."""
    if config.path is None:
        return (
            f"no config file found (looked at {LOOKED_AT}); write mis-sync.toml"
            f" (docs/operations.md), or try `mis-sync run {connector} --demo`"
        )
    held = ", ".join(f"{k} ({v.get('connector')})" for k, v in sorted(config.schools.items()))
    return f"{config.path}: no school uses connector {connector!r} (configured: {held or 'none'})"


@command()
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=2,
    show_default=True,
    help="Worker processes.",
)
def worker(ctx: Context, concurrency: int) -> None:
    """Start a Celery worker that runs the syncs dispatched to the broker."""
    from .. import tasks

    app = tasks.configure(ctx.config)
    app.worker_main(["worker", "--loglevel=INFO", f"--concurrency={concurrency}", "--pool=prefork"])


@command()
@click.argument("connector", required=False)
@click.option(
    "--school", help="Only this school (default: every school, or every one using CONNECTOR)."
)
def dispatch(ctx: Context, connector: str | None, school: str | None) -> None:
    """Queue one sync task per school for the Celery workers."""
    from .. import tasks
    from ..errors import ConfigError

    config = ctx.config
    if not config.path:
        raise ConfigError("dispatch needs a config file that the workers can read too")
    keys = (
        [ctx.school_key(school)]
        if school is not None
        else sorted(
            k
            for k, v in config.schools.items()
            if connector is None or v.get("connector") == connector
        )
    )
    if not keys:
        raise ConfigError(
            _no_school_uses(config, connector) if connector else f"{config.path}: no school"
        )
    tasks.configure(config)
    queued = [
        {"school": key, "task": task_id}
        for key, task_id in zip(keys, tasks.dispatch(config, keys), strict=True)
    ]
    if ctx.quiet:
        return
    if ctx.json:
        return print_json(queued)
    for row in queued:
        click.echo(f"{row['school']}: queued as task {row['task']}")
