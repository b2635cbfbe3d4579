"""The `mis-sync` command: parse, call the pipeline or the store, print. Nothing else.

Heavy modules (SQLAlchemy, httpx, rich) are imported inside commands so that `--help` and
shell completion stay fast. Errors go to stderr as one line; exit codes are those of cli.md.
"""

from __future__ import annotations

import functools
import json
import logging
import sys

import click

ENTITY = click.Choice(["students", "contacts", "contact-links", "teachers", "classes", "groups"])
DEMO_KEY = "demo"


def _fail(message: str, code: int) -> None:
    click.echo(f"mis-sync: {message}", err=True)
    sys.exit(code)


def handled(command):
    """Turn the errors a run can end with into one line on stderr and the right exit code."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from .errors import MisSyncError

        try:
            return command(*args, **kwargs)
        except MisSyncError as exc:
            _fail(f"error: {exc}", exc.exit_code)
        except KeyboardInterrupt:
            _fail("interrupted; nothing was stored", 1)
        except Exception as exc:  # a bug: still one line, the traceback only with -vv
            if isinstance(exc, BrokenPipeError) and _reader_left():
                sys.exit(0)
            logging.getLogger("mis_sync").debug("internal error", exc_info=True)
            _fail(f"internal error: {type(exc).__name__}: {exc} (mis-sync -vv shows where)", 1)

    return wrapper


def _reader_left() -> bool:
    """Whether stdout's reader has gone (`mis-sync runs | head -3`); if so, stop writing there.

    Output is written after the work is stored, so what the command did stands: it ends
    without a message, and without Python's own complaint when it flushes stdout at exit.
    A broken pipe anywhere else (a socket, say) is no such thing and stays an error.
    """
    import os
    import select

    try:
        fd = sys.stdout.fileno()
        poller = select.poll()
    except (AttributeError, OSError, ValueError):  # not a real file (tests); no poll (Windows)
        return False
    poller.register(fd, select.POLLOUT)
    if not any(event & select.POLLERR for _, event in poller.poll(0)):
        return False
    os.dup2(os.open(os.devnull, os.O_WRONLY), fd)
    return True


def _pass_broken_pipe_on() -> None:
    """rich's Console would exit 1 on a broken pipe; `handled` decides instead."""
    raise BrokenPipeError


class Context:
    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path
        self._config = None

    @property
    def config(self):
        if self._config is None:
            from .config import find_config, load_config

            self._config = load_config(find_config(self.config_path))
        return self._config

    def store(self):
        from .store import Store

        return Store(self.config.database)

    def school_key(self, given: str | None) -> str:
        """`--school` may be left out when there is one school, or none (the demo school)."""
        from .errors import ConfigError

        if given:
            return given
        schools = sorted(self.config.schools)
        if len(schools) == 1:
            return schools[0]
        if not schools:
            return DEMO_KEY
        raise ConfigError(f"several schools are configured; pass --school ({', '.join(schools)})")


pass_ctx = click.make_pass_decorator(Context)


@click.group()
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    help="Config file (else $MIS_SYNC_CONFIG, ./mis-sync.toml).",
)
@click.option("-v", "--verbose", count=True, help="Log to stderr (-v info, -vv debug).")
@click.version_option(package_name="mis-sync")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, verbose: int) -> None:
    """Sync school data from a school MIS into your own database, and explain what was left out."""
    _logging(verbose)
    ctx.obj = Context(config_path)


class _Handler(logging.Handler):
    """Log lines go to whatever stderr is now (a terminal, a pipe, a test runner's capture)."""

    def emit(self, record: logging.LogRecord) -> None:
        fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
        click.echo(logging.Formatter(fmt).format(record), err=True)


def _logging(verbose: int) -> None:
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, _Handler)), None)
    if handler is None:
        handler = _Handler()
        root.addHandler(handler)
    levels = {0: logging.WARNING, 1: logging.INFO}
    handler.setLevel(levels.get(verbose, logging.DEBUG))
    root.setLevel(min(root.level or logging.WARNING, handler.level))


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

    from . import collector

    if tls:
        from . import http

        http.preload_tls()
    if "mis_sync.core.pipeline" not in sys.modules:
        with collector.paused():
            from . import pipeline  # noqa: F401

            gc.freeze()  # before the collector is back: its first pass would walk them all
    return sys.modules["mis_sync.core.pipeline"]


@main.command()
@click.argument("connector")
@click.option("--school", help="Only this school (default: every school using CONNECTOR).")
@click.option("--demo", is_flag=True, help="Sync the connector's bundled demo school.")
@click.option("--dry-run", is_flag=True, help="Fetch and diff, but write nothing.")
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
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_ctx
@handled
def run(ctx: Context, connector, school, demo, dry_run, allow_mass_delete, wait, jobs, as_json):
    """Run one sync: fetch, map, filter, diff and store."""
    pipeline = _import_pipeline(tls=not demo)  # the demo's fake needs no TLS
    from .errors import ConfigError

    config = ctx.config
    transport = None
    if demo:
        from . import plugins

        found = plugins.manager(connector).hook.mis_sync_demo()
        if found is None:
            raise ConfigError(f"connector {connector!r} has no demo school")
        config.schools = {DEMO_KEY: found.options}
        config.path = None
        transport = found.transport
        keys = [DEMO_KEY]
    elif school:
        keys = [school]
    else:
        keys = sorted(k for k, v in config.schools.items() if v.get("connector") == connector)
        if not keys:
            raise ConfigError(
                f"no school in {config.path or 'the config (none found)'} uses connector"
                f" {connector!r}; try --demo"
            )
    store = ctx.store()
    options = dict(
        transport=transport, dry_run=dry_run, allow_mass_delete=allow_mass_delete, wait=wait
    )
    if len(keys) == 1:  # one school: its error is the command's error
        sch, pm = pipeline.prepare(config, keys[0], expect=connector)
        with _progress(keys[0], as_json) as progress:
            result = pipeline.run_school(store, sch, pm, progress=progress, **options)
        return _print_json(result) if as_json else _print_summary(result)
    results = pipeline.run_schools(store, config, keys, connector=connector, jobs=jobs, **options)
    for failed in (r for r in results if r["exit_code"]):
        click.echo(f"mis-sync: error: {failed['message']}", err=True)
    try:
        if as_json:
            _print_json(results)
        else:
            for result in results:
                _print_summary(result)
    except BrokenPipeError:  # the exit code still says how the schools went
        if not _reader_left():
            raise
    sys.exit(max(r["exit_code"] for r in results))


@main.command()
@click.option("--school", help="Only this school.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_ctx
@handled
def runs(ctx: Context, school, as_json):
    """List past runs: when, status and counts."""
    rows = ctx.store().runs(school)
    if as_json:
        return _print_json(rows)
    _table(
        "Runs",
        [
            "run",
            "school",
            "connector",
            "status",
            "started",
            "inserted",
            "updated",
            "deleted",
            "left_out",
            "message",
        ],
        rows,
    )


@main.command()
@click.option("--school", help="The school (optional when one is configured).")
@click.option("--run", "run_no", type=int, help="The run (default: the latest completed run).")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_ctx
@handled
def changes(ctx: Context, school, run_no, as_json):
    """Show the change events of a run, with old and new field values."""
    rows = ctx.store().changes(ctx.school_key(school), run_no)
    if as_json:
        return _print_json(rows)
    _table(
        "Changes",
        ["run", "entity", "id", "op", "changes"],
        [{**r, "changes": _fmt_changes(r["changes"])} for r in rows],
    )


@main.command()
@click.argument("entity", type=ENTITY)
@click.argument("record_id")
@click.option("--school", help="The school (optional when one is configured).")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_ctx
@handled
def explain(ctx: Context, entity, record_id, school, as_json):
    """Say whether a record is kept and, if not, the chain of reasons."""
    answer = ctx.store().explain(ctx.school_key(school), entity, record_id)
    if as_json:
        return _print_json(answer)
    click.echo(f"{entity} {record_id}: {'kept' if answer['kept'] else 'left out'}")
    for n, reason in enumerate(answer["reasons"]):
        click.echo(f"{'  ' * (n + 1)}{'because ' if n else ''}{reason}")


@main.command()
@click.argument("entity", type=ENTITY)
@click.option("--school", help="The school (optional when one is configured).")
@click.option(
    "--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True
)
@pass_ctx
@handled
def export(ctx: Context, entity, school, fmt):
    """Print the kept records of one entity as JSON or CSV."""
    from .pipeline import local_fields
    from .plugins import manager

    store = ctx.store()
    local = local_fields(manager(_NoConnector()))
    rows = store.export(ctx.school_key(school), entity, local)
    if fmt == "json":
        return _print_json(rows)
    import csv

    from .schema import export_fields

    writer = csv.DictWriter(sys.stdout, fieldnames=export_fields(entity), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in row.items()}
        )


@main.command(name="set")
@click.argument("entity", type=click.Choice(["teacher"]))
@click.argument("record_id")
@click.argument("field", type=click.Choice(["room"]))
@click.argument("value")
@click.option("--school", help="The school (optional when one is configured).")
@pass_ctx
@handled
def set_local(ctx: Context, entity, record_id, field, value, school):
    """Set a school-owned field that no sync overwrites."""
    key = ctx.school_key(school)
    ctx.store().set_local(key, entity + "s", record_id, field, value)
    click.echo(f"{entity} {record_id}: {field} = {value!r}")


@main.command()
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=2,
    show_default=True,
    help="Worker processes.",
)
@pass_ctx
@handled
def worker(ctx: Context, concurrency: int) -> None:
    """Start a Celery worker that runs the syncs dispatched to the broker."""
    from . import tasks

    app = tasks.configure(ctx.config)
    app.worker_main(["worker", "--loglevel=INFO", f"--concurrency={concurrency}", "--pool=prefork"])


@main.command()
@click.argument("connector", required=False)
@click.option(
    "--school", help="Only this school (default: every school, or every one using CONNECTOR)."
)
@pass_ctx
@handled
def dispatch(ctx: Context, connector: str | None, school: str | None) -> None:
    """Queue one sync task per school for the Celery workers."""
    from . import tasks
    from .errors import ConfigError

    config = ctx.config
    if not config.path:
        raise ConfigError("dispatch needs a config file that the workers can read too")
    keys = (
        [school]
        if school
        else sorted(
            k
            for k, v in config.schools.items()
            if connector is None or v.get("connector") == connector
        )
    )
    unknown = [k for k in keys if k not in config.schools]
    if unknown or not keys:
        raise ConfigError(f"{config.path}: no school {unknown[0] if unknown else 'to dispatch'!r}")
    tasks.configure(config)
    for key, task_id in zip(keys, tasks.dispatch(config, keys), strict=True):
        click.echo(f"{key}: queued as task {task_id}")


@main.group()
def db() -> None:
    """Manage the database schema."""


@db.command()
@pass_ctx
@handled
def upgrade(ctx: Context) -> None:
    """Bring the database to the schema this mis-sync needs, keeping every row."""
    from sqlalchemy import create_engine

    from .store import migrate

    engine = create_engine(ctx.config.database)
    before = migrate.current(engine)
    migrate.upgrade(engine)
    click.echo(f"database schema: {before or 'empty'} -> {migrate.HEAD}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@handled
def connectors(as_json):
    """List the installed connectors and plugins, with versions."""
    from .plugins import installed_connectors, installed_plugins

    rows = [
        {"kind": "connector", "name": n, "version": v}
        for n, v in sorted(installed_connectors().items())
    ]
    rows += [
        {"kind": "plugin", "name": n, "version": v} for n, v in sorted(installed_plugins().items())
    ]
    if as_json:
        return _print_json(rows)
    _table("Installed", ["kind", "name", "version"], rows)


@main.command(name="new-connector")
@click.argument("name")
@click.option(
    "--dest",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="Folder to create mis-sync-NAME in.",
)
@handled
def new_connector(name: str, dest: str) -> None:
    """Create a new connector package from the template, its tests wired to the kit."""
    from pathlib import Path

    from .scaffold import new_connector as scaffold

    target = scaffold(name, Path(dest))
    click.echo(f"created {target}")
    click.echo(
        f"next: pip install -e {target} && pytest {target}/tests && mis-sync run {name} --demo"
    )


class _NoConnector:
    """Stands in for a connector where a command needs only core's and plugins' hooks."""


# -- printing -------------------------------------------------------------------------------


def _print_json(value) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


def _fmt_changes(changes: dict) -> str:
    if "reason" in changes and len(changes) == 1:
        return changes["reason"]
    return "; ".join(f"{k}: {v[0]!r} → {v[1]!r}" for k, v in changes.items())


def _table(title: str, columns: list[str], rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    # piped output is not cut to 80 columns: scripts and logs should see whole values
    console = Console(width=None if sys.stdout.isatty() else 240)
    console.on_broken_pipe = _pass_broken_pipe_on
    console.print(table)


def _print_summary(result: dict) -> None:
    """Plain lines, not rich: a cron run should not pay for rich's import to say "no changes"."""
    if result.get("exit_code"):
        click.echo(f"{result['school']}: {result['status']}: {result['message']}")
        return
    counts = ", ".join(f"{k} {result[k]}" for k in ("inserted", "updated", "deleted", "left_out"))
    label = "dry run (nothing written)" if result["status"] == "dry-run" else f"run {result['run']}"
    click.echo(f"{result['school']}: {label}: {counts}")
    if result.get("message"):
        click.echo(f"  {result['message']}")
    if not any(result[k] for k in ("inserted", "updated", "deleted")):
        click.echo("  no changes")
    for reason, count in result["left_out_by_reason"].items():
        click.echo(f"  left out {count:>5}  {reason}")
    if result["near_duplicates"]:
        click.echo(
            f"  {len(result['near_duplicates'])} near-duplicate contact pairs"
            " to check at source (see run --json)"
        )


class _progress:
    """A rich progress bar on a terminal; silent when stdout is not one (cron, pipes, --json)."""

    def __init__(self, label: str, quiet: bool) -> None:
        self.label = label
        self.enabled = not quiet and sys.stdout.isatty()
        self.bar = None
        self.tasks: dict[str, int] = {}

    def __enter__(self):
        if not self.enabled:
            return None
        from rich.progress import Progress

        self.bar = Progress(transient=True)
        self.bar.start()
        return self.update

    def update(self, resource: str, done: int, total: int | None) -> None:
        if resource not in self.tasks:
            self.tasks[resource] = self.bar.add_task(f"{self.label}: {resource}", total=total)
        self.bar.update(self.tasks[resource], completed=done, total=total)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()


if __name__ == "__main__":
    main()
