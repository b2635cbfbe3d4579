"""The config file (cli.md) decoded into typed structs, with errors that name file, key and line.

tomllib keeps no line numbers, so an error finds its key's line by scanning the text: cheap,
and it only runs when something is already wrong.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal, TypeVar

import msgspec

from .errors import ConfigError

DEFAULT_DATABASE = "sqlite:///mis-sync.db"
T = TypeVar("T", bound=msgspec.Struct)


class CoreOptions(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The per-school keys core understands; connectors and plugins add their own."""

    connector: str
    parental_responsibility_only: bool = False
    mass_delete_threshold: float = 0.2

    def __post_init__(self) -> None:
        if not 0 < self.mass_delete_threshold <= 1:
            raise ValueError("mass_delete_threshold must be more than 0 and at most 1")


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


class School:
    """One school's settings, with every plugin's options decoded and checked."""

    def __init__(self, key: str, core: CoreOptions, options: dict[type, msgspec.Struct]):
        self.key = key
        self.connector = core.connector
        self.parental_responsibility_only = core.parental_responsibility_only
        self.mass_delete_threshold = core.mass_delete_threshold
        self._options = options

    def options(self, cls: type[T]) -> T:
        return self._options[cls]  # type: ignore[return-value]


def find_config(explicit: str | None) -> Path | None:
    """`--config PATH`, then `$MIS_SYNC_CONFIG`, then `./mis-sync.toml`; None means defaults."""
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
    return config


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
            raise _error(config.path, text, where + (name,), f"unknown option {name!r}")
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
    return School(key, core, options)


def secret_from_env(school: School, variable: str | None, key: str) -> str:
    """Secrets come from the environment only; say which variable is missing, never a value."""
    if not variable:
        raise ConfigError(f"school {school.key!r}: {key} is not set")
    value = os.environ.get(variable)
    if not value:
        raise ConfigError(
            f"school {school.key!r}: environment variable {variable} (named by {key}) is not set"
        )
    return value


_PATH = re.compile(r"- at `\$((?:\.[^.`\[]+|\[\d+\])*)`")


def _config_error(path, text, exc: msgspec.ValidationError, prefix: tuple) -> ConfigError:
    message = str(exc)
    match = _PATH.search(message)
    keys = prefix + (tuple(match.group(1).lstrip(".").split(".")) if match else ())
    detail = _PATH.sub("", message).strip().rstrip("-").strip()
    unknown = re.match(r"Object contains unknown field `([^`]+)`", detail)
    if unknown:
        keys += (unknown.group(1),)
        detail = f"unknown key {unknown.group(1)!r}"
    return _error(path, text, keys, detail)


def _error(path, text, keys: tuple, detail: str) -> ConfigError:
    dotted = ".".join(k for k in keys if k)
    line = _line_of(text, keys) if text else None
    where = f"{path or 'config'}" + (f", line {line}" if line else "")
    return ConfigError(f"{where}: {dotted + ': ' if dotted else ''}{detail}")


def _line_of(text: str, keys: tuple) -> int | None:
    """The line where `keys[-1]` is set inside the table `keys[:-1]`, or the table header."""
    if not keys:
        return None
    table, key = ".".join(keys[:-1]), keys[-1]
    current = ""
    header_line = None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("["):
            current = stripped.strip("[]").strip()
            if current == ".".join(keys):
                header_line = number
            continue
        if current == table and re.match(rf"{re.escape(key)}\s*=", stripped):
            return number
    return header_line
