"""Reading one OneRoster 1.1 CSV exchange (a zip or a folder) into typed rows.

Everything that makes a file untrustworthy is a SourceError naming file, line and column, and
nothing is stored: a CSV export is produced by one program in one go, so one broken row says
the whole export is broken, and mapping the rest would delete what that row should have kept.
Columns are found by header name; extension columns (`metadata.*`) are ignored unless the
school names one as its title column.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal

import msgspec

from mis_sync.core.errors import SourceError

Mode = Literal["bulk", "delta", "absent"]
MODES = ("bulk", "delta", "absent")
# The files this connector reads, in the order a delta must be applied (classes before the
# enrollments that name them). academicSessions is checked but not kept: the canonical model
# has no terms.
FILES = ("orgs", "users", "classes", "enrollments", "demographics", "academicSessions")
# Columns the 1.1 CSV tables require; a file without one of them is malformed.
REQUIRED = {
    "orgs": ("sourcedId", "name", "type"),
    "users": (
        "sourcedId",
        "enabledUser",
        "orgSourcedIds",
        "role",
        "username",
        "givenName",
        "familyName",
    ),
    "classes": (
        "sourcedId",
        "title",
        "courseSourcedId",
        "classType",
        "schoolSourcedId",
        "termSourcedIds",
    ),
    "enrollments": ("sourcedId", "classSourcedId", "schoolSourcedId", "userSourcedId", "role"),
    "demographics": ("sourcedId",),
    "academicSessions": ("sourcedId", "title", "type", "startDate", "endDate", "schoolYear"),
}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?")


# -- rows, as kept between runs (array_like: the state of a large school stays small) --------


class Org(msgspec.Struct, array_like=True):
    modified: str | None
    name: str | None
    type: str | None


class User(msgspec.Struct, array_like=True):
    modified: str | None
    role: str
    orgs: list[str]
    given: str | None
    family: str | None
    preferred: str | None
    email: str | None
    phone: str | None
    agents: list[str]
    grades: list[str]
    title: str | None


class Klass(msgspec.Struct, array_like=True):
    modified: str | None
    title: str | None
    code: str | None
    type: str
    school: str


class Enrollment(msgspec.Struct, array_like=True):
    modified: str | None
    klass: str
    school: str
    user: str
    role: str
    primary: bool


class Demographic(msgspec.Struct, array_like=True):
    modified: str | None
    birth_date: str | None


class Table(msgspec.Struct, kw_only=True):
    """One file of the exchange: its manifest mode, and its rows in file order.

    A row sent as `tobedeleted` is in `deleted` with its dateLastModified; a sourcedId sent
    twice counts once, as its last row says.
    """

    mode: Mode
    rows: dict[str, msgspec.Struct] = {}
    deleted: dict[str, str | None] = {}
    repeated: list[str] = []


class Exchange(msgspec.Struct, kw_only=True):
    where: str
    tables: dict[str, Table]


# -- the exchange -------------------------------------------------------------------------------


def read_exchange(
    path: Path, *, title_column: str, progress: Callable[[str, int, int | None], None]
) -> Exchange:
    files = _open(path)
    manifest = _manifest(files)
    tables = {}
    for name in FILES:
        mode = manifest[name]
        filename = f"{name}.csv"
        if mode == "absent":
            tables[name] = Table(mode=mode)
            continue
        if filename not in files:
            raise SourceError(
                f"{path}: manifest.csv says {filename} is {mode}, but there is no {filename}"
            )
        table = Table(mode=mode, rows={}, deleted={}, repeated=[])
        reader = _Reader(filename, files[filename](), REQUIRED[name], delta=mode == "delta")
        parse = _PARSERS[name]
        for row in reader:
            sid = row.required("sourcedId")
            if sid in table.rows or sid in table.deleted:
                table.repeated.append(sid)
                table.rows.pop(sid, None)
                table.deleted.pop(sid, None)
            status = row.status()
            modified = row.modified()
            if status == "tobedeleted":
                table.deleted[sid] = modified
            else:
                table.rows[sid] = parse(row, modified, title_column)
        if reader.count == 0:
            raise SourceError(
                f"{filename} line 2: no rows (OneRoster marks a file with no rows absent"
                " in manifest.csv)"
            )
        progress(name, reader.count, reader.count)
        tables[name] = table
    return Exchange(where=str(path), tables=tables)


def _open(path: Path) -> dict[str, Callable[[], bytes]]:
    """The CSV files of a zip or a folder, by name; a folder's are read only when asked for."""
    if path.is_dir():
        return {p.name: _reading(p) for p in path.iterdir() if p.suffix == ".csv"}
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith(".csv")]
            # Zipping a folder puts its files under the folder's name: accept one such level.
            prefix = ""
            if "manifest.csv" not in names:
                nested = [n for n in names if n.count("/") == 1 and n.endswith("/manifest.csv")]
                if len(nested) == 1:
                    prefix = nested[0].removesuffix("manifest.csv")
            return {
                n.removeprefix(prefix): _given(archive.read(n))
                for n in names
                if n.startswith(prefix) and "/" not in n.removeprefix(prefix)
            }
    except (zipfile.BadZipFile, OSError, RuntimeError, EOFError, zlib.error) as exc:
        raise SourceError(f"{path}: not a readable zip file or a folder: {exc}") from None


def _reading(file: Path) -> Callable[[], bytes]:
    def read() -> bytes:
        try:
            return file.read_bytes()
        except OSError as exc:
            raise SourceError(f"{file}: cannot read: {exc.strerror}") from None

    return read


def _given(data: bytes) -> Callable[[], bytes]:
    return lambda: data


def _manifest(files: dict[str, Callable[[], bytes]]) -> dict[str, Mode]:
    if "manifest.csv" not in files:
        raise SourceError("manifest.csv: missing (a OneRoster exchange starts with it)")
    props: dict[str, tuple[int, str]] = {}
    reader = _Reader("manifest.csv", files["manifest.csv"](), ("propertyName", "value"))
    for row in reader:
        props[row.required("propertyName")] = (row.line, (row.get("value") or "").strip())
    version = props.get("oneroster.version")
    if version and not version[1].startswith("1.1"):
        raise SourceError(
            f"manifest.csv line {version[0]}, column value: oneroster.version is"
            f" {version[1]!r}; this connector reads OneRoster 1.1"
        )
    modes = {}
    for name in FILES:
        if f"file.{name}" not in props:
            raise SourceError(f"manifest.csv: no file.{name} line (bulk, delta or absent)")
        line, value = props[f"file.{name}"]
        if value.lower() not in MODES:
            raise SourceError(
                f"manifest.csv line {line}, column value: file.{name} is {value!r},"
                " not bulk, delta or absent"
            )
        modes[name] = value.lower()
    return modes


# -- one CSV file -----------------------------------------------------------------------------


class _Row:
    __slots__ = ("file", "line", "columns", "values", "delta")

    def __init__(self, file: str, line: int, columns: dict[str, int], values: list[str], delta):
        self.file, self.line, self.columns, self.values, self.delta = (
            file,
            line,
            columns,
            values,
            delta,
        )

    def error(self, column: str, problem: str) -> SourceError:
        return SourceError(f"{self.file} line {self.line}, column {column}: {problem}")

    def get(self, column: str) -> str | None:
        """Trimmed; an empty field is not set."""
        i = self.columns.get(column)
        if i is None:
            return None
        return self.values[i].strip() or None

    def required(self, column: str) -> str:
        value = self.get(column)
        if value is None:
            raise self.error(column, "empty, but the value is required")
        return value

    def ids(self, column: str) -> list[str]:
        """A comma-separated list (sourcedIds, grades), quoted in the CSV when it has several."""
        return [v for v in (p.strip() for p in (self.get(column) or "").split(",")) if v]

    def boolean(self, column: str, *, required: bool = False) -> bool | None:
        value = self.required(column) if required else self.get(column)
        if value is None:
            return None
        if value.lower() not in ("true", "false"):
            raise self.error(column, f"{value!r} is not true or false")
        return value.lower() == "true"

    def date(self, column: str, *, personal: bool = False) -> str | None:
        value = self.get(column)
        if value is None:
            return None
        try:
            if not _DATE.fullmatch(value):
                raise ValueError
            date.fromisoformat(value)
        except ValueError:
            # a date of birth stays out of the message: it is a pupil's personal data
            shown = "" if personal else f"{value!r} "
            raise self.error(column, f"{shown}is not a YYYY-MM-DD date") from None
        return value

    def status(self) -> str | None:
        value = self.get("status")
        if value is None:
            if self.delta:
                raise self.error("status", "empty, but a delta row must say active or tobedeleted")
            return None
        if value not in ("active", "tobedeleted"):
            raise self.error("status", f"{value!r} is not active or tobedeleted")
        return value

    def modified(self) -> str | None:
        """dateLastModified as UTC ISO 8601, so that rows compare by text."""
        value = self.get("dateLastModified")
        if value is None:
            return None
        try:
            if not _DATETIME.fullmatch(value):
                raise ValueError
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise self.error("dateLastModified", f"{value!r} is not an ISO 8601 date") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Reader:
    """The rows of one CSV file, checked against its header as they are read."""

    def __init__(self, file: str, data: bytes, required, *, delta: bool = False) -> None:
        self.file, self.delta, self.count = file, delta, 0
        try:
            text = data.decode("utf-8-sig")  # a BOM is allowed and ignored
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise SourceError(f"{file} line {line}: not UTF-8 ({exc.reason})") from None
        self.csv = csv.reader(io.StringIO(text, newline=""), strict=True)
        header = self._next()
        if header is None:
            raise SourceError(f"{file} line 1: empty, not even a header")
        header = [h.strip() for h in header]
        self.columns = {}
        for i, name in enumerate(header):
            if name in self.columns:
                raise SourceError(f"{file} line 1, column {name}: named twice in the header")
            self.columns[name] = i
        for name in required:
            if name not in self.columns:
                raise SourceError(f"{file} line 1: no column {name}")
        self.width = len(header)

    def _next(self) -> list[str] | None:
        try:
            return next(self.csv)
        except StopIteration:
            return None
        except csv.Error as exc:
            raise SourceError(
                f"{self.file} line {self.csv.line_num}: not valid CSV: {exc}"
            ) from None

    def __iter__(self) -> Iterator[_Row]:
        while True:
            line = self.csv.line_num + 1  # where the row starts; a quoted field may span lines
            values = self._next()
            if values is None:
                return
            if not values:
                continue  # a blank line, as at the end of many files
            if len(values) != self.width:
                raise SourceError(
                    f"{self.file} line {line}: {len(values)} fields, but the header has"
                    f" {self.width}"
                )
            self.count += 1
            yield _Row(self.file, line, self.columns, values, self.delta)


# -- per file -----------------------------------------------------------------------------------


def _org(row: _Row, modified, _title) -> Org:
    return Org(modified=modified, name=row.get("name"), type=row.get("type"))


def _user(row: _Row, modified, title_column: str) -> User:
    row.boolean("enabledUser", required=True)  # checked; an account's state is not ours
    return User(
        modified=modified,
        role=row.required("role").lower(),
        orgs=row.ids("orgSourcedIds"),
        given=row.get("givenName"),
        family=row.get("familyName"),
        preferred=row.get("preferredFirstName"),
        email=row.get("email"),
        phone=row.get("phone") or row.get("sms"),
        agents=row.ids("agentSourcedIds"),
        grades=row.ids("grades"),
        title=row.get(title_column),
    )


def _klass(row: _Row, modified, _title) -> Klass:
    return Klass(
        modified=modified,
        title=row.get("title"),
        code=row.get("classCode"),
        type=row.required("classType"),
        school=row.required("schoolSourcedId"),
    )


def _enrollment(row: _Row, modified, _title) -> Enrollment:
    row.date("beginDate")
    row.date("endDate")
    return Enrollment(
        modified=modified,
        klass=row.required("classSourcedId"),
        school=row.required("schoolSourcedId"),
        user=row.required("userSourcedId"),
        role=row.required("role").lower(),
        primary=row.boolean("primary") is True,
    )


def _demographic(row: _Row, modified, _title) -> Demographic:
    return Demographic(modified=modified, birth_date=row.date("birthDate", personal=True))


def _session(row: _Row, modified, _title) -> None:
    row.date("startDate")
    row.date("endDate")


_PARSERS = {
    "orgs": _org,
    "users": _user,
    "classes": _klass,
    "enrollments": _enrollment,
    "demographics": _demographic,
    "academicSessions": _session,
}
