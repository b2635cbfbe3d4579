"""Opening a database: which URLs are taken, and one-line errors for what is missing.

The store's own tables and queries know nothing of this; `Store.__init__` calls it.
"""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url

from ..errors import ConfigError, EnvironmentProblem, NothingStored


def sqlite_pragmas(dbapi_conn, _record) -> None:
    """WAL lets readers (runs, export) go on while a run writes; the lock serialises writers."""
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


SUPPORTED = ("sqlite", "postgresql")


def database_url(url: str) -> URL:
    """The config's `database` as SQLAlchemy's URL: `postgres://` and `postgresql://` mean
    PostgreSQL through psycopg 3, as most tools take them; other backends are refused."""
    try:
        parsed = make_url(url)
    except Exception:
        raise ConfigError(
            "database: not a database URL (sqlite:///path or postgresql://user@host/db)"
        ) from None
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED:
        raise ConfigError(
            f"database {shown(parsed)}: {backend} is not supported; use SQLite (sqlite:///path)"
            " or PostgreSQL (postgresql://user@host/db)"
        )
    return parsed


def shown(parsed: URL) -> str:
    """The URL as messages may show it: its passwords masked, in the user part or in the
    query (`?password=` and `?sslpassword=`, which libpq takes too)."""
    secret = [k for k in parsed.query if "password" in k.lower()]
    text = parsed.difference_update_query(secret).render_as_string(hide_password=True)
    masked = "&".join(f"{k}=***" for k in secret)
    return f"{text}{'&' if '?' in text else '?'}{masked}" if secret else text


def missing_driver(parsed: URL, exc: ModuleNotFoundError) -> EnvironmentProblem:
    where = shown(parsed)
    hint = (
        "pip install 'mis-sync[postgres]'"
        if exc.name == "psycopg"
        else "install it, or use postgresql:// with pip install 'mis-sync[postgres]'"
    )
    return EnvironmentProblem(f"database {where}: driver {exc.name} is not installed; {hint}")


def check_sqlite_path(where: str, path: str, create: bool) -> None:
    """SQLite would create a missing file (and fail obscurely in a missing folder)."""
    from pathlib import Path

    file = Path(path)
    if not create and not file.is_file():
        raise NothingStored(
            f"database {where}: no such file, so nothing has been synced there yet"
            " (run `mis-sync run CONNECTOR` first, or check `database`)"
        )
    if create and not file.parent.is_dir():
        raise EnvironmentProblem(f"database {where}: the folder {file.parent} does not exist")
