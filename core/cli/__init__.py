"""The `mis-sync` command: parse, call the pipeline or the store, print. Nothing else.

One module per group of commands (running, inspecting, editing, admin), each thin; the
output helpers (tables, JSON, summaries, progress) live in output.py. This module holds the
group itself and the one mechanism every command shares (`command`): the global options in
either position, the checked config, the checked `--school`, the store opened for reading or
for writing, and the error handling.

Heavy modules (SQLAlchemy, httpx, rich) are imported inside commands so that `--help` and
shell completion stay fast. Errors go to stderr as one line; exit codes are those of cli.md.
"""

from __future__ import annotations

import functools
import logging
import os
import sys

import click

ENTITY = click.Choice(["students", "contacts", "contact-links", "teachers", "classes", "groups"])
# the demo's own database (never the configured one), relative to the current folder
DEMO_DATABASE = "sqlite:///mis-sync-demo.db"
DEMO_DATABASE_ENV = "MIS_SYNC_DEMO_DATABASE"  # another URL for it (tests, a shared demo)
LOOKED_AT = "--config, $MIS_SYNC_CONFIG, ./mis-sync.toml"


def demo_key(connector: str) -> str:
    """Each connector's demo school has a key of its own, so one demo never replaces another."""
    return f"demo-{connector}"


def demo_database() -> str:
    return os.environ.get(DEMO_DATABASE_ENV) or DEMO_DATABASE


def _fail(message: str, code: int) -> None:
    click.echo(f"mis-sync: {message}", err=True)
    sys.exit(code)


def handled(command):
    """Turn the errors a run can end with into one line on stderr and the right exit code."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from ..errors import MisSyncError, from_environment

        try:
            return command(*args, **kwargs)
        except MisSyncError as exc:
            _fail(f"error: {exc}", exc.exit_code)
        except click.ClickException:  # a usage error: click prints it, exit 2
            raise
        except KeyboardInterrupt:
            _fail("interrupted; nothing was stored", 1)
        except Exception as exc:  # a bug: still one line, the traceback only with -vv
            if isinstance(exc, BrokenPipeError) and reader_left():
                sys.exit(0)
            logging.getLogger("mis_sync").debug("internal error", exc_info=True)
            known = from_environment(exc)
            if known is not None:
                _fail(f"error: {known}", known.exit_code)
            _fail(f"internal error: {type(exc).__name__}: {exc} (mis-sync -vv shows where)", 1)

    return wrapper


def reader_left() -> bool:
    """Whether stdout's reader has gone (`mis-sync runs | head -3`); if so, stop writing there.

    Output is written after the work is stored, so what the command did stands: it ends
    without a message, and without Python's own complaint when it flushes stdout at exit.
    A broken pipe anywhere else (a socket, say) is no such thing and stays an error.
    """
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
    """What one invocation knows: the global options, and the config once it is read.

    The global options may come before or after the subcommand (`mis-sync --json runs`,
    `mis-sync runs --json`); both land here.
    """

    def __init__(self) -> None:
        self.config_path: str | None = None
        self.verbose = 0
        self.json = False
        self.quiet = False
        self._config = None

    @property
    def config(self):
        """The whole config, decoded and every school's table checked against its connector's
        options: a typo anywhere stops every command, not only the run that reads it."""
        if self._config is None:
            from ..config import find_config, load_config
            from ..pipeline import check_config

            config = load_config(find_config(self.config_path))
            check_config(config)
            self._config = config
        return self._config

    def reader(self):
        """The store, for a command that only reads: never creates a database.

        With no config file, the demo database is read if a demo has made one (one line on
        stderr says so); otherwise the command stops, naming where it looked for a config.
        """
        from ..errors import ConfigError
        from ..store import Store

        config = self.config
        if config.path is not None:
            return Store(config.database, create=False)
        try:
            store = Store(demo_database(), create=False)
        except ConfigError:
            raise ConfigError(
                f"no config file found (looked at {LOOKED_AT}) and no demo database"
                f" ({demo_database()}); write mis-sync.toml (docs/operations.md),"
                " or try `mis-sync run integris --demo`"
            ) from None
        if not self.quiet:
            click.echo(
                f"mis-sync: no config file ({LOOKED_AT}); reading the demo database {store.where}",
                err=True,
            )
        return store

    def schools(self, store=None) -> list[str]:
        """The school keys a `--school` may name: the config's, or with no config file the
        demo schools stored in the demo database."""
        config = self.config
        if config.path is not None or store is None:
            return sorted(config.schools)
        return store.schools()

    def school_key(self, given: str | None, store=None) -> str:
        """`--school`, checked on every command as `run` checks it: an unknown key is exit 2
        listing the known ones; it may be left out when there is exactly one school."""
        from ..errors import ConfigError

        known = self.schools(store)
        where = self.config.path or "the demo database"
        if given is not None:
            if given in known:
                return given
            raise ConfigError(
                f"{where}: no school {given!r} (configured: {', '.join(known) or 'none'})"
            )
        if len(known) == 1:
            return known[0]
        held = "configured" if self.config.path else "in the demo database"
        if not known:
            raise ConfigError(f"{where}: no school is {held}")
        raise ConfigError(f"several schools are {held}; pass --school ({', '.join(known)})")


def given_id(value: str | None, name: str = "ID") -> str | None:
    """An ID the operator typed, refused when empty or blank (exit 2, one line).

    No record has such an ID, so answering it ("never sent", no changes, nothing to erase)
    would hide a script's unset variable behind a plausible reply. Every command that takes
    an ID checks it here; None (an option left out) passes.
    """
    from ..errors import ConfigError

    if value is None:
        return value
    if not value.strip():
        state = "empty" if value == "" else "blank"
        raise ConfigError(f"{name} {value!r} is {state}: give the record's ID as the MIS gives it")
    if not value.isprintable() or not _is_utf8(value):
        # bytes that are not UTF-8 (the shell passes them as surrogates) or a control
        # character: no MIS ID holds one, and it would break the one-line output
        raise ConfigError(
            f"{name} {value!r} holds a control"
            " character or bytes that are not UTF-8: give the record's ID as the MIS gives it"
        )
    return value


def _is_utf8(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _context() -> Context:
    return click.get_current_context().ensure_object(Context)


def _set_config(ctx, _param, value):
    if value is not None:
        ctx.ensure_object(Context).config_path = value


def _set_verbose(ctx, _param, value):
    if value:
        obj = ctx.ensure_object(Context)
        obj.verbose += value
        _logging(obj.verbose)


def _set_flag(name):
    def callback(ctx, _param, value):
        if value:
            setattr(ctx.ensure_object(Context), name, True)

    return callback


def global_options(f):
    """--config, -v, --json and --quiet, accepted before and after the subcommand alike."""
    for option in reversed(
        [
            click.option(
                "--config",
                metavar="PATH",
                expose_value=False,
                callback=_set_config,
                help="Config file (else $MIS_SYNC_CONFIG, ./mis-sync.toml).",
            ),
            click.option(
                "-v",
                "--verbose",
                count=True,
                expose_value=False,
                callback=_set_verbose,
                help="Log to stderr (-v info, -vv debug).",
            ),
            click.option(
                "--json",
                is_flag=True,
                expose_value=False,
                callback=_set_flag("json"),
                help="Print the result as JSON (for scripts).",
            ),
            click.option(
                "-q",
                "--quiet",
                is_flag=True,
                expose_value=False,
                callback=_set_flag("quiet"),
                help="Print nothing on success; failures still go to stderr.",
            ),
        ]
    ):
        f = option(f)
    return f


def command(group=None, **kwargs):
    """Declare a subcommand: the global options, the Context as first argument, and errors
    turned into one line and an exit code. Every command is declared with this."""

    def decorate(f):
        wrapped = handled(f)

        @functools.wraps(f)
        def callback(*args, **kw):
            return wrapped(_context(), *args, **kw)

        return (group or main).command(**kwargs)(global_options(callback))

    return decorate


def group(**kwargs):
    """Declare a group of subcommands that also does something itself (`duplicates`): as
    `command`, with click's context second, to see whether a subcommand follows."""

    def decorate(f):
        wrapped = handled(f)

        @click.pass_context
        @functools.wraps(f)
        def callback(click_ctx, *args, **kw):
            return wrapped(_context(), click_ctx, *args, **kw)

        return main.group(invoke_without_command=True, **kwargs)(global_options(callback))

    return decorate


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@global_options
@click.version_option(package_name="mis-sync")
def main() -> None:
    """Sync school data from a school MIS into your own database, and explain what was left out."""
    obj = _context()
    _logging(obj.verbose)


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
from . import admin, editing, inspecting, lifecycle, running, worklist  # noqa: E402, F401
from .web import serve  # noqa: E402, F401  (the dashboard, extra `web`)
