"""The config file (cli.md) decoded into typed structs, with errors that name file, key and line.

tomllib keeps no line numbers, so an error finds its key's line by scanning the text: cheap,
and it only runs when something is already wrong.
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import msgspec

from .errors import ConfigError

DEFAULT_DATABASE = "sqlite:///mis-sync.db"
log = logging.getLogger("mis_sync.config")
T = TypeVar("T", bound=msgspec.Struct)
# A duration option (a timeout, say): more than zero, finite, at most an hour. NaN fails
# `gt` too, so zero, negative, nan and inf are each one config error naming the key's line.
Seconds = Annotated[float, msgspec.Meta(gt=0, le=3600)]


class CoreOptions(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The per-school keys core understands; connectors and plugins add their own."""

    connector: str
    parental_responsibility_only: bool = False
    # a constraint, not a check in __post_init__: its error then names the key's own line
    mass_delete_threshold: Annotated[float, msgspec.Meta(gt=0, le=1)] = 0.2
    # days a record no longer kept stays stored (and restorable under its ID) before it is
    # purged: a pupil who leaves in July and comes back in September is still restored
    retention_days: Annotated[int, msgspec.Meta(ge=1)] = 400


class WebUser(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One dashboard user (`[web.users.NAME]`, docs/dashboard.md): never a plain password."""

    password_hash: str  # argon2, from `mis-sync serve --hash-password`
    role: Literal["viewer", "editor"] = "viewer"
    schools: list[str] | None = None  # only these schools; None for every school


class WebConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    users: dict[str, WebUser] = {}


class Config(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    database: str = DEFAULT_DATABASE
    broker: str | None = None  # Celery broker URL, for `mis-sync worker` and `dispatch`
    queue: str = "mis-sync"  # Celery queue: one per environment sharing a broker
    schools: dict[str, dict[str, Any]] = {}
    web: WebConfig = msgspec.field(default_factory=WebConfig)  # `mis-sync serve`
    path: str | None = None  # where it was read from, for messages; not a config key


# A school key names the school everywhere (runs, lock, --school): printable, and short
# enough to fit the store's column (100) and a line of `runs` on an 80-column terminal.
SCHOOL_KEY_MAX = 64
_BAD_KEY = re.compile(r"[\x00-\x1f\x7f]")


class School:
    """One school's settings, with every plugin's options decoded and checked."""

    def __init__(
        self,
        key: str,
        core: CoreOptions,
        options: dict[type, msgspec.Struct],
        where: tuple[str | None, str | None] = (None, None),
    ):
        self.key = key
        self.connector = core.connector
        self.parental_responsibility_only = core.parental_responsibility_only
        self.mass_delete_threshold = core.mass_delete_threshold
        self.retention_days = core.retention_days
        self._options = options
        self._where = where  # the config's path and text, for messages naming a key's line

    def options(self, cls: type[T]) -> T:
        return self._options[cls]  # type: ignore[return-value]

    def error(self, key: str, detail: str) -> ConfigError:
        """A ConfigError naming the file, this school, the key and its line."""
        path, text = self._where
        return _error(path, text, ("schools", self.key, key), detail)


def find_config(explicit: str | None) -> Path | None:
    """`--config PATH`, then `$MIS_SYNC_CONFIG`, then `./mis-sync.toml`; None means defaults.

    A folder where the file should be is an error (exit 2) saying so, wherever it was named:
    "not found" would send the operator looking for a file that is there, only one level down.
    """
    for candidate, must_exist in (
        (explicit, True),
        (os.environ.get("MIS_SYNC_CONFIG"), True),
        ("mis-sync.toml", False),
    ):
        if not candidate:
            continue
        path = Path(candidate)
        if path.is_file():
            return path
        if path.is_dir():  # even ./mis-sync.toml: passing it by would read another database
            inside = path / "mis-sync.toml"
            hint = f" (did you mean {inside}?)" if inside.is_file() else ""
            raise ConfigError(f"{candidate}: is a folder, not a config file{hint}")
        if must_exist:
            raise ConfigError(f"{candidate}: config file not found")
    return None


def load_config(path: Path | None) -> Config:
    if path is None:
        return Config()
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        config = msgspec.convert(data, Config)
    except msgspec.ValidationError as exc:
        raise _config_error(path, text, exc, ()) from None
    config.path = str(path)
    for key in config.schools:
        if not key or len(key) > SCHOOL_KEY_MAX or _BAD_KEY.search(key):
            raise _error(
                path,
                text,
                ("schools", key),
                f"a school key must be 1 to {SCHOOL_KEY_MAX} characters, none of them"
                " a control character",
            )
    _warn_if_world_readable(path, config.database)
    config.database = _relative_to(path.parent, config.database)
    return config


def _relative_to(folder: Path, database: str) -> str:
    """A relative SQLite path is relative to the config file's folder, not to the current
    one: `mis-sync --config /etc/mis-sync/school.toml` from a cron job's home directory
    reads the same database as from /etc/mis-sync."""
    prefix = re.match(r"sqlite(\+\w+)?:///", database)
    if not prefix:
        return database
    rest = database[prefix.end() :]
    if not rest or rest.startswith(("/", ":memory:", "file:")) or Path(rest).is_absolute():
        return database
    return prefix.group(0) + str((folder / rest).absolute())


def _warn_if_world_readable(path: Path, database: str) -> None:
    """A password in the database URL of a file every user may read gets a warning.

    A warning, not an error: the run still works, and refusing would stop a school's sync
    over a file mode. The password itself is never shown.
    """
    try:
        parts = urlsplit(database)
        in_query = any("password" in k.lower() for k, _ in parse_qsl(parts.query))
        password = parts.password or in_query
        mode = path.stat().st_mode
    except (OSError, ValueError):
        return
    if password and mode & stat.S_IROTH:
        log.warning(
            "%s: the database URL holds a password and the file is readable by every user"
            " of this machine; chmod o-r it (or chmod 600)",
            path,
        )


def bind_school(
    config: Config, key: str, option_types: list[type[msgspec.Struct]], text: str | None = None
) -> School:
    """Check one school's table against core's and every plugin's option structs."""
    if key not in config.schools:
        known = ", ".join(sorted(config.schools)) or "none"
        raise ConfigError(f"{config.path or 'config'}: no school {key!r} (configured: {known})")
    table = config.schools[key]
    if text is None and config.path:
        text = Path(config.path).read_text(encoding="utf-8")
    where = ("schools", key)
    known_keys = set(CoreOptions.__struct_fields__)
    for cls in option_types:
        known_keys.update(cls.__struct_fields__)
    for name in table:
        if name not in known_keys:
            raise _error(config.path, text, where + (name,), _unknown(name, known_keys))
    for name, value in table.items():
        shown = without_credentials(value) if isinstance(value, str) else None
        if shown is not None:
            detail = f"{CREDENTIALS}; without them it reads {shown!r}"
            raise _error(config.path, text, where + (name,), detail)
    try:
        core = msgspec.convert(
            {k: v for k, v in table.items() if k in CoreOptions.__struct_fields__}, CoreOptions
        )
        options = {
            cls: msgspec.convert(
                {k: v for k, v in table.items() if k in cls.__struct_fields__}, cls
            )
            for cls in option_types
        }
    except msgspec.ValidationError as exc:
        raise _config_error(config.path, text, exc, where) from None
    return School(key, core, options, (config.path, text))


CREDENTIALS = (
    "must not hold a user name or password (the client secret comes from client_secret_env)"
)


def without_credentials(value: str) -> str | None:
    """`value` without its user name and password if it is a URL holding either, else None.

    A URL in a school's options is never the place for a secret: the file is read by more
    people than the environment, and httpx would send a user name and password as Basic auth
    in place of the Bearer token and log them with every request. Every command refuses
    them (bind_school), and the HTTP client asks the same question (core/http.py), so the
    rule is written once. What it returns is safe to show.
    """
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if "@" in parts.netloc:  # scheme://user:pw@host/..., or //user:pw@host/... with none
        return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    # no scheme at all: user:pw@host/... (urlsplit reads "user" as the scheme). A password
    # and a path are what make it a URL with a credential here: an email address has no
    # ":" before its "@", and mailto:a@b or org:name@x has no path after its host.
    authority, slash, _ = value.partition("/")
    user, at, host = authority.rpartition("@")
    if slash and at and ":" in user and not any(c in authority for c in "?#"):
        return host + value[len(authority) :]
    return None


def secret_from_env(school: School, variable: str | None, key: str) -> str:
    """Secrets come from the environment only.

    The message names the file, the school and the line of `key`, but not the variable:
    if someone put the secret itself in `key`, printing "the variable" would print it.
    """
    if not variable:
        raise school.error(key, "not set; name the environment variable holding the secret")
    value = os.environ.get(variable)
    if not value:
        raise school.error(
            key,
            "the environment variable it names is not set or empty (export it where"
            " mis-sync runs; this key holds the variable's name, never the secret)",
        )
    return value


def error_at(config: Config, keys: tuple, detail: str) -> ConfigError:
    """A ConfigError naming the config's file, the dotted key and the key's line."""
    text = Path(config.path).read_text(encoding="utf-8") if config.path else None
    return _error(config.path, text, keys, detail)


SECRET_HINT = "put the secret in the environment and name the variable in client_secret_env"


def _unknown(name: str, known) -> str:
    """An unknown key, with a near miss suggested, and the secret's own hint."""
    import difflib

    if name in ("client_secret", "secret", "password"):
        return f"unknown option {name!r}: secrets never go in the file; {SECRET_HINT}"
    near = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75)
    return f"unknown option {name!r}" + (f" (did you mean {near[0]!r}?)" if near else "")


_PATH = re.compile(r"- at `\$((?:\.[^.`\[]+|\[\d+\])*)`")


def _config_error(path, text, exc: msgspec.ValidationError, prefix: tuple) -> ConfigError:
    message = str(exc)
    match = _PATH.search(message)
    keys = prefix + (tuple(k for k in match.group(1).lstrip(".").split(".") if k) if match else ())
    detail = _PATH.sub("", message).strip().rstrip("-").strip()
    missing = re.match(r"Object missing required field `([^`]+)`", detail)
    if missing:
        detail = f"missing key {missing.group(1)!r}"
    unknown = re.match(r"Object contains unknown field `([^`]+)`", detail)
    if unknown:
        keys += (unknown.group(1),)
        known = Config.__struct_fields__ if len(keys) == 1 else ()
        detail = _unknown(unknown.group(1), [k for k in known if k != "path"]).replace(
            "unknown option", "unknown key"
        )
    return _error(path, text, keys, detail)


def _error(path, text, keys: tuple, detail: str) -> ConfigError:
    # keys as TOML spells them: a key that is not bare is quoted (and its control characters
    # escaped), so a message never carries a raw tab or escape sequence to the terminal
    dotted = ".".join(k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k) for k in keys)
    line = _line_of(text, keys) if text else None
    where = f"{path or 'config'}" + (f", line {line}" if line else "")
    return ConfigError(f"{where}: {dotted + ': ' if dotted else ''}{detail}")


def _line_of(text: str, keys: tuple) -> int | None:
    """The line where `keys[-1]` is set inside the table `keys[:-1]`, or the table header.

    Headers and keys are compared as TOML keys: quoted parts (`[schools."st-mary"]`) and
    spaces around dots are the same key as their bare spelling.
    """
    if not keys:
        return None
    keys = tuple(keys)
    header_line = None
    current: tuple = ()
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("["):
            current = _toml_key(stripped.strip("[]"))
            if current == keys:
                header_line = number
            continue
        name, eq, _ = stripped.partition("=")
        if eq and current + _toml_key(name) == keys:
            return number
    return header_line


def _toml_key(text: str) -> tuple:
    """`a."b.c" . d` -> ("a", "b.c", "d"): enough of TOML's key syntax to find a line."""
    parts = re.findall(r'\s*("(?:[^"\\]|\\.)*"|' "'[^']*'" r'|[^.\s"\']+)\s*(?:\.|$)', text)
    return tuple(_unquote(p) for p in parts)


def _unquote(part: str) -> str:
    if part[:1] == "'":
        return part[1:-1]
    if part[:1] == '"':
        try:
            return json.loads(part)  # TOML's basic strings escape as JSON's do
        except ValueError:
            return part[1:-1]
    return part
