"""The `mis-sync` command: parse, call the pipeline or the store, print. Nothing else.

One module per group of commands (running, inspecting, editing, admin), each thin; the
output helpers (tables, JSON, summaries, progress) live in output.py. This module holds the
group itself, the options every command shares and the error handling.

Heavy modules (SQLAlchemy, httpx, rich) are imported inside commands so that `--help` and
shell completion stay fast. Errors go to stderr as one line; exit codes are those of cli.md.
"""

from __future__ import annotations

import functools
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
        from ..errors import MisSyncError

        try:
            return command(*args, **kwargs)
        except MisSyncError as exc:
            _fail(f"error: {exc}", exc.exit_code)
        except KeyboardInterrupt:
            _fail("interrupted; nothing was stored", 1)
        except Exception as exc:  # a bug: still one line, the traceback only with -vv
            if isinstance(exc, BrokenPipeError) and reader_left():
                sys.exit(0)
            logging.getLogger("mis_sync").debug("internal error", exc_info=True)
            _fail(f"internal error: {type(exc).__name__}: {exc} (mis-sync -vv shows where)", 1)

    return wrapper


def reader_left() -> bool:
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


def pass_broken_pipe_on() -> None:
    """rich's Console would exit 1 on a broken pipe; `handled` decides instead."""
    raise BrokenPipeError


class Context:
    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path
        self._config = None

    @property
    def config(self):
        if self._config is None:
            from ..config import find_config, load_config

            self._config = load_config(find_config(self.config_path))
        return self._config

    def store(self):
        from ..store import Store

        return Store(self.config.database)

    def school_key(self, given: str | None) -> str:
        """`--school` may be left out when there is one school, or none (the demo school)."""
        from ..errors import ConfigError

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


class NoConnector:
    """Stands in for a connector where a command needs only core's and plugins' hooks."""


# the commands register themselves on `main` as their modules are imported
from . import admin, editing, inspecting, running, worklist  # noqa: E402, F401
from .web import serve  # noqa: E402, F401  (the dashboard, extra `web`)
