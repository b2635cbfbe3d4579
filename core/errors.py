"""The errors a run can end with; each carries the exit code of cli.md, so the CLI need not
know which stage raised it."""

from __future__ import annotations

import errno


class MisSyncError(Exception):
    exit_code = 1


class SourceError(MisSyncError):
    """The MIS failed: network, auth, permission or malformed data. Nothing is stored.

    `transient` marks failures worth trying again later (the source kept answering 429/5xx
    or could not be reached); a worker retries only those.
    """

    exit_code = 1

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class ConfigError(MisSyncError):
    """Usage or config error."""

    exit_code = 2


class EnvironmentProblem(ConfigError):
    """The machine's own set-up failed (database unreachable, driver missing, disk full):
    exit 2 as cli.md says, with a one-line hint, never a driver's multi-line text."""


class NothingStored(ConfigError):
    """A command that only reads found no mis-sync database where the config points."""


class SafeguardStop(MisSyncError):
    """A safeguard (mass delete) stopped the run before it wrote anything.

    `would_delete`: the (entity, MIS ID) keys it would have deleted, which `Store.fail_run`
    keeps with the stopped run (store/stopped.py).
    """

    exit_code = 3
    would_delete: tuple[tuple[str, str], ...] = ()


class SchoolBusy(MisSyncError):
    """Another run holds this school's lock."""

    exit_code = 4


EXTRAS = {"psycopg": "postgres", "psycopg2": "postgres", "celery": "workers", "redis": "workers"}


def from_environment(exc: BaseException, where: str = "") -> EnvironmentProblem | None:
    """The set-up failure `exc` stands for, as one line with a hint; None for anything else.

    Used wherever an unexpected exception is turned into a message (the CLI, several-school
    runs), so a full disk or a locked database is never reported as a bug. `where` is the
    database's URL with its password masked, when known.
    """
    if isinstance(exc, EnvironmentProblem):
        return exc
    database = f"database {where}" if where else "database"
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        extra = EXTRAS.get(exc.name.split(".")[0])
        if extra:
            return EnvironmentProblem(
                f"{exc.name} is not installed: pip install 'mis-sync[{extra}]'"
            )
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return EnvironmentProblem(f"{database}: the disk is full; free space and run again")
    if type(exc).__module__.startswith("sqlalchemy") and hasattr(exc, "orig"):
        return EnvironmentProblem(f"{database}: {_database_problem(exc)}")
    return None


def _database_problem(exc) -> str:
    """The driver's own first line, with what to do about it."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    first = text[0].strip() if text else type(exc).__name__
    lowered = first.lower()
    hints = (
        ("database is locked", "another program held the database past the wait; try again"),
        ("disk is full", "free space and run again"),
        ("disk i/o error", "check the disk"),
        ("file is not a database", "the file is not a mis-sync database; check `database`"),
        ("unable to open database file", "check that the folder exists and can be written"),
        ("readonly database", "the database cannot be written; check its permissions"),
        ("does not exist", "create the database first (createdb) or fix `database`"),
        ("connection refused", "is the database server running, and at that host and port?"),
        ("could not translate host", "check the host name in `database`"),
        ("authentication failed", "check the user and the password's source"),
        ("no such table", "not a mis-sync database, or an older one: `mis-sync db upgrade`"),
    )
    hint = next((h for k, h in hints if k in lowered), "check `database` and the server")
    first = first.removeprefix("connection failed: ")
    return f"{first} ({hint})"


class StoreUnavailable(MisSyncError):
    """No connection to the store could be had for the run (pool exhausted, server full or
    gone): the machine's set-up, not the source. Nothing was stored."""

    exit_code = 2


class LockLost(MisSyncError):
    """The run's school lock died before the commit (its database connection was closed):
    the run stored nothing. The database side of the machine failed, so 2, as for a database
    that cannot be reached."""

    exit_code = 2


class StoreError(MisSyncError):
    """The database refused a write or a read. The message carries the database's own first
    line only: never the statement's parameters, which hold pupils' records."""

    exit_code = 2
