"""The errors a run can end with; each carries the exit code of cli.md, so the CLI need not
know which stage raised it."""


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


class SafeguardStop(MisSyncError):
    """A safeguard (mass delete) stopped the run before it wrote anything."""

    exit_code = 3


class SchoolBusy(MisSyncError):
    """Another run holds this school's lock."""

    exit_code = 4


class LockLost(MisSyncError):
    """The run's school lock died before the commit (its database connection was closed):
    the run stored nothing. The database side of the machine failed, so 2, as for a database
    that cannot be reached."""

    exit_code = 2


class StoreError(MisSyncError):
    """The database refused a write or a read. The message carries the database's own first
    line only: never the statement's parameters, which hold pupils' records."""

    exit_code = 2
