"""One CSV file of an exchange, read row by row from a stream and checked as it is read.

Header names are matched case-insensitively (exporters write `birthdate` for `birthDate`);
columns with a blank name are ignored, as are empty fields after the last named column.
Enumerations (status, role, classType, booleans) are read in any case. What makes a row
unreadable is a SourceError naming file, line and column; values are quoted only where they
are not personal data.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import BinaryIO

from mis_sync.core.errors import SourceError

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?")
_NO_NAME = re.compile(r"[0-9 /.:+TZ-]{1,40}")  # what no name is made of
# `inactive` is OneRoster 1.0's word for a deletion; other readers take it so, and so do we.
STATUSES = {"active": "active", "tobedeleted": "tobedeleted", "inactive": "tobedeleted"}
MAX_LINE = 4 * 1024 * 1024  # a line of 4 MB is no roster row: refused, not buffered on
csv.field_size_limit(MAX_LINE)


class Row:
    __slots__ = ("reader", "line", "values")

    def __init__(self, reader: Reader, line: int, values: list[str]) -> None:
        self.reader, self.line, self.values = reader, line, values

    def shown(self, value: str) -> str:
        """A bad value as a message quotes it. A file of people (users.csv, demographics.csv)
        has only values that cannot be a name quoted (digits and date punctuation): a broken
        row there may put a pupil's name in any column."""
        if self.reader.personal and not _NO_NAME.fullmatch(value):
            return "the value "
        return f"{value!r} "

    def error(self, column: str, problem: str) -> SourceError:
        return SourceError(f"{self.reader.file} line {self.line}, column {column}: {problem}")

    def get(self, column: str) -> str | None:
        """Trimmed; an empty field, or a column the file does not have, is not set."""
        i = self.reader.columns.get(column.lower())
        if i is None or i >= len(self.values):
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

    def boolean(self, column: str) -> bool | None:
        value = self.get(column)
        if value is None:
            return None
        if value.lower() not in ("true", "false"):
            raise self.error(column, f"{self.shown(value)}is not true or false")
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
            shown = "the value " if personal else self.shown(value)
            raise self.error(column, f"{shown}is not a YYYY-MM-DD date") from None
        return value

    def status(self) -> str | None:
        value = self.get("status")
        if value is None:
            if self.reader.delta:
                raise self.error("status", "empty, but a delta row must say active or tobedeleted")
            return None
        status = STATUSES.get(value.lower())
        if status is None:
            raise self.error("status", f"{self.shown(value)}is not active or tobedeleted")
        return status

    def modified(self) -> str | None:
        """dateLastModified as UTC ISO 8601, so that rows compare by text.

        One that is no ISO 8601 date (`1/05/2023`) cannot order anything: it is read as not
        set, with one warning per file, and the row follows the order of the exchanges.
        """
        value = self.get("dateLastModified")
        if value is None:
            return None
        try:
            if not _DATETIME.fullmatch(value):
                raise ValueError
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            self.reader.warn_once(
                "dateLastModified",
                f"{self.reader.file} line {self.line}, column dateLastModified:"
                f" {self.shown(value)}is not an ISO 8601 date; this file's dates that are not"
                " are read as not set",
            )
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Reader:
    """The rows of one CSV file, checked against its header as they are read.

    :param required: columns without which no row can be read (a SourceError when missing).
    :param wanted: columns the mapping reads when they are there (a warning when missing).
    :param personal: the file holds people's data: no value of it is quoted in a message.
    :param aliases: other names a column goes by (OneRoster 1.0's `userSourcedId` in
        demographics.csv).
    """

    def __init__(
        self,
        file: str,
        stream: BinaryIO,
        *,
        required=(),
        wanted=(),
        aliases: dict[str, str] | None = None,
        delta: bool = False,
        personal: bool = False,
        warnings: list[str],
    ) -> None:
        self.file, self.delta, self.count, self.warnings = file, delta, 0, warnings
        self.personal = personal
        self._warned: set[str] = set()
        self.csv = csv.reader(_lines(stream, file), strict=True)
        header = self._next()
        if header is None:
            raise SourceError(f"{file} line 1: empty, not even a header")
        names = [h.strip() for h in header]
        while names and not names[-1]:
            names.pop()  # trailing unnamed columns: a spreadsheet's leftovers
        self.width = len(names)
        reads = {c.lower() for c in (*required, *wanted)}
        self.columns: dict[str, int] = {}
        for i, name in enumerate(names):
            key = (aliases or {}).get(name.lower(), name).lower()
            if not key:
                continue
            if key in self.columns:
                if key in reads:
                    raise SourceError(f"{file} line 1, column {name}: named twice in the header")
                continue  # a column we never read may be named twice: not ours to judge
            self.columns[key] = i
        for name in required:
            if name.lower() not in self.columns:
                raise SourceError(f"{file} line 1: no column {name}")
        for name in wanted:
            if name.lower() not in self.columns:
                self.warnings.append(f"{file}: no column {name}; it is read as not set")

    def has(self, column: str) -> bool:
        return column.lower() in self.columns

    def warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            self.warnings.append(message)

    def _next(self) -> list[str] | None:
        try:
            return next(self.csv)
        except StopIteration:
            return None
        except csv.Error as exc:
            raise SourceError(
                f"{self.file} line {self.csv.line_num}: not valid CSV: {exc}"
            ) from None

    def __iter__(self) -> Iterator[Row]:
        while True:
            line = self.csv.line_num + 1  # where the row starts; a quoted field may span lines
            values = self._next()
            if values is None:
                return
            if not values or values == [""]:
                continue  # a blank line, as at the end of many files
            if len(values) > self.width and not any(v.strip() for v in values[self.width :]):
                values = values[: self.width]
            if len(values) != self.width:
                raise SourceError(
                    f"{self.file} line {line}: {len(values)} fields, but the header has"
                    f" {self.width}"
                )
            self.count += 1
            yield Row(self, line, values)


def _lines(stream: BinaryIO, file: str) -> Iterator[str]:
    """The file's lines as text, decoded one by one so a decoding error names its line.

    A BOM is allowed and ignored. No line is read past MAX_LINE, so memory stays bounded
    whatever the file holds.
    """
    buffered = io.BufferedReader(stream)  # type: ignore[arg-type]
    number = 0
    while True:
        raw = buffered.readline(MAX_LINE)
        if not raw:
            return
        number += 1
        if len(raw) == MAX_LINE and not raw.endswith(b"\n"):
            raise SourceError(f"{file} line {number}: longer than {MAX_LINE // 1024 // 1024} MB")
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SourceError(f"{file} line {number}: not UTF-8 ({exc.reason})") from None
