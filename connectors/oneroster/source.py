"""Reading one OneRoster 1.1 or 1.2 CSV exchange (a zip or a folder) into typed rows.

Tolerant where the standard is loose or real exporters differ (header case, `inactive`,
header-only bulk files, 1.0 column names, a dateLastModified that is no date): such a file is
read, with a warning. What makes a file untrustworthy is a SourceError naming file, line and
column, and nothing is stored: a CSV export is produced by one program in one go, so one
broken row says the whole export is broken, and mapping the rest would delete what that row
should have kept. Only the files the mapping uses are opened (files.py streams them), and only
the columns it reads are checked.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mis_sync.core.errors import ConfigError, SourceError

from .csvfile import Reader, Row
from .files import Caps, Files, opened
from .rows import (
    Demographic,
    Enrollment,
    Exchange,
    Gone,
    Klass,
    Mode,
    Org,
    Role,
    Table,
    User,
)

MODES = ("bulk", "delta", "absent")
VERSIONS = ("1.1", "1.2")
# The files this connector reads, in the order a delta must be applied (roles before the
# users they place in an org, classes before the enrollments that name them). roles.csv is
# 1.2's; academicSessions, courses and the rest are never opened: the model has no use for them.
FILES = ("orgs", "roles", "users", "classes", "enrollments", "demographics")
PERSONAL = ("users", "demographics")  # files of people: no value of theirs is quoted
READ_ORDER = ("orgs", "classes", "enrollments", "roles", "users", "demographics")
AGENT_ROLES = ("parent", "guardian", "relative")  # the roles that make a user a contact
DEFAULT_TITLE_COLUMN = "metadata.title"
# Without these columns no row of the file can be read (an error); per version where it differs.
REQUIRED = {
    "orgs": ("sourcedId",),
    "roles": ("sourcedId", "userSourcedId", "role", "orgSourcedId"),
    "users": ("sourcedId",),
    "classes": ("sourcedId", "classType", "schoolSourcedId"),
    "enrollments": ("sourcedId", "classSourcedId", "userSourcedId", "role"),
    "demographics": ("sourcedId",),
}
USERS_REQUIRED = {"1.1": ("role",), "1.2": ()}
# Columns the mapping reads when they are there: a file without one is read, with a warning.
WANTED = {
    "orgs": (),
    "roles": (),
    "users": ("givenName", "familyName", "email", "agentSourcedIds", "grades"),
    "classes": ("title", "classCode"),
    "enrollments": ("schoolSourcedId", "primary"),
    "demographics": ("birthDate",),
}
USERS_WANTED = {"1.1": ("orgSourcedIds",), "1.2": ("preferredGivenName",)}
ALIASES = {"demographics": {"usersourcedid": "sourcedId"}}  # OneRoster 1.0's name for it


class _Ours:
    """Which rows of a bulk file this school's picture can use, judged as they are read, so
    that memory follows the school and not the export (a district's file holds every school).

    Read in READ_ORDER, each file narrows the next: this org's classes, their enrollments,
    the roles and users those name or that are this org's (and every contact), their
    demographics. Delta files are kept whole: a row of another org there may be a user
    leaving this one, and deltas are small.
    """

    def __init__(self, org: str, version: str, modes: dict[str, Mode]) -> None:
        self.org, self.modes = org, modes
        self.classes: set[str] = set()
        self.enrolled: set[str] = set()
        self.placed: set[str] = set()
        self.users: set[str] = set()
        # 1.2 places users by roles.csv: only a bulk one says who is not placed here
        self.judge_users = version == "1.1" or modes["roles"] == "bulk"
        self.classes_seen: set[str] = set()
        self.users_seen: set[str] = set()

    def keep(self, name: str, sid: str, row) -> bool:
        if name == "classes":
            self.classes_seen.add(row.school)
        elif name == "roles":
            self.users_seen.add(row.org)
        elif name == "users":
            self.users_seen.update(row.orgs)
        keep = self.modes[name] != "bulk" or self._ours(name, sid, row)
        if keep and name == "classes":
            self.classes.add(sid)
        elif keep and name == "enrollments":
            self.enrolled.add(row.user)
        elif keep and name == "roles":
            self.placed.add(row.user)
        elif keep and name == "users":
            self.users.add(sid)
        return keep

    def _ours(self, name: str, sid: str, row) -> bool:
        org = self.org
        if name == "classes":
            return row.school == org
        if name == "enrollments":
            return row.school in (org, None) or row.klass in self.classes
        if name == "roles":
            return row.org == org or row.role in AGENT_ROLES or row.user in self.enrolled
        if name == "users":
            return not self.judge_users or (
                org in row.orgs
                or row.role in AGENT_ROLES
                or sid in self.placed
                or sid in self.enrolled
            )
        if name == "demographics":
            return self.modes["users"] != "bulk" or sid in self.users
        return True

    def keep_gone(self, gone: Gone) -> bool:
        return not gone.orgs or self.org in gone.orgs


# -- the exchange -------------------------------------------------------------------------------


def read_exchange(
    path: Path,
    *,
    org: str,
    title_column: str | None,
    default_title: str | None = None,
    progress: Callable[[str, int, int | None], None],
    caps: Caps,
) -> Exchange:
    """Every file the mapping uses, read for `org`; `title_column` None means the default,
    which may be missing."""
    warnings: list[str] = []
    with opened(path, caps) as files:
        version, manifest = _manifest(files, warnings)
        ours = _Ours(org, version, manifest)
        tables = {}
        for name in READ_ORDER:
            mode = manifest[name]
            tables[name] = Table(mode=mode)
            if mode == "absent":
                continue
            filename = f"{name}.csv"
            if not files.has(filename):
                raise SourceError(
                    f"{path}: manifest.csv says {filename} is {mode}, but there is no {filename}"
                )
            with files.open(filename) as stream:
                tables[name] = _table(
                    name,
                    mode,
                    stream,
                    version,
                    ours,
                    title_column=title_column,
                    default_title=default_title,
                    warnings=warnings,
                )
            progress(name, len(tables[name].rows), None)
    return Exchange(
        where=str(path),
        version=version,
        tables={name: tables[name] for name in FILES},
        warnings=warnings,
        orgs_with_classes=ours.classes_seen,
        orgs_with_users=ours.users_seen,
    )


def _table(name, mode, stream, version, ours: _Ours, *, title_column, default_title, warnings):
    filename = f"{name}.csv"
    required, wanted = REQUIRED[name], WANTED[name]
    if name == "users":
        required = (*required, *USERS_REQUIRED[version])
        wanted = (*wanted, *USERS_WANTED[version])
    if mode == "delta":
        wanted = (*wanted, "status", "dateLastModified")
    reader = Reader(
        filename,
        stream,
        required=required,
        wanted=wanted,
        aliases=ALIASES.get(name),
        delta=mode == "delta",
        personal=name in PERSONAL,
        warnings=warnings,
    )
    if name == "users":
        title_column = _title_column(reader, title_column, default_title, warnings)
    table = Table(mode=mode, rows={}, deleted={}, repeated=[])
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
            gone = _gone(name, row, modified)
            if mode != "bulk" or ours.keep_gone(gone):
                table.deleted[sid] = gone
        else:
            parsed = parse(row, modified, title_column)
            if ours.keep(name, sid, parsed):
                table.rows[sid] = parsed
    if reader.count == 0:
        said = "none of these" if mode == "bulk" else "no changes"
        warnings.append(
            f"{filename} holds only its header row: read as {mode} with no rows ({said})"
        )
    return table


def _title_column(reader: Reader, given: str | None, default_title, warnings) -> str:
    """The school's title column must be in users.csv; the default one may be missing (a
    warning, unless the school gives a default title)."""
    column = given or DEFAULT_TITLE_COLUMN
    if not reader.has(column):
        if given:
            raise ConfigError(
                f"option title_column: users.csv has no column {given!r}"
                f" (it has {', '.join(sorted(reader.columns))})"
            )
        if not default_title:
            warnings.append(
                f"users.csv: no column {DEFAULT_TITLE_COLUMN} (the default title_column), so"
                " no titles are sent; teachers and contacts need one (set title_column or"
                " default_title)"
            )
    return column


def _gone(name: str, row: Row, modified: str | None) -> Gone:
    if name == "users":
        return Gone(modified=modified, orgs=row.ids("orgSourcedIds"), role=_lower(row, "role"))
    if name == "classes":
        return Gone(modified=modified, orgs=row.ids("schoolSourcedId"))
    if name == "roles":
        return Gone(modified=modified, orgs=row.ids("orgSourcedId"), role=_lower(row, "role"))
    return Gone(modified=modified)


def _manifest(files: Files, warnings: list[str]) -> tuple[str, dict[str, Mode]]:
    if not files.has("manifest.csv"):
        missing = [f for f in ("manifest.csv", "users.csv", "classes.csv", "enrollments.csv")]
        missing = [f for f in missing if not files.has(f)]
        held = ", ".join(files.listing()) or "no CSV file"
        raise SourceError(
            f"{files.where}: not a whole OneRoster exchange: no {', '.join(missing)}"
            f" (manifest.csv says what the exchange holds); it holds {held}"
        )
    props: dict[str, tuple[int, str]] = {}
    with files.open("manifest.csv") as stream:
        reader = Reader("manifest.csv", stream, required=("propertyName",), warnings=warnings)
        for row in reader:
            props[row.required("propertyName").lower()] = (row.line, row.get("value") or "")
    line, given = props.get("oneroster.version", (0, ""))
    version = next((v for v in VERSIONS if given.startswith(v)), None)
    if given and version is None:
        raise SourceError(
            f"manifest.csv line {line}, column value: oneroster.version is {given!r};"
            f" this connector reads OneRoster {' and '.join(VERSIONS)}"
        )
    if version is None:
        version = "1.2" if "file.roles" in props else "1.1"
        warnings.append(f"manifest.csv: no oneroster.version; read as {version}")
    modes = {}
    for name in FILES:
        if name == "roles" and version == "1.1":
            modes[name] = "absent"  # 1.1 has no roles.csv: a user's role is in users.csv
            continue
        if f"file.{name.lower()}" not in props:
            there = files.has(f"{name}.csv")
            modes[name] = "bulk" if there else "absent"
            warnings.append(f"manifest.csv: no file.{name} line; read as {modes[name]}")
            continue
        line, value = props[f"file.{name.lower()}"]
        if value.lower() not in MODES:
            raise SourceError(
                f"manifest.csv line {line}, column value: file.{name} is {value!r},"
                " not bulk, delta or absent"
            )
        modes[name] = value.lower()
    return version, modes


# -- per file -----------------------------------------------------------------------------------


def _lower(row: Row, column: str) -> str | None:
    value = row.get(column)
    return value.lower() if value else None


def _org(row: Row, modified, _title) -> Org:
    return Org(modified=modified, name=row.get("name"), type=_lower(row, "type"))


def _role(row: Row, modified, _title) -> Role:
    return Role(
        modified=modified,
        user=row.required("userSourcedId"),
        role=row.required("role").lower(),
        org=row.required("orgSourcedId"),
    )


def _user(row: Row, modified, title_column: str) -> User:
    return User(
        modified=modified,
        role=_lower(row, "role"),
        orgs=row.ids("orgSourcedIds"),
        given=row.get("givenName"),
        family=row.get("familyName"),
        preferred=row.get("preferredGivenName") or row.get("preferredFirstName"),
        preferred_family=row.get("preferredFamilyName"),
        email=row.get("email"),
        phone=row.get("phone") or row.get("sms"),
        agents=row.ids("agentSourcedIds"),
        grades=row.ids("grades"),
        title=row.get(title_column),
    )


def _klass(row: Row, modified, _title) -> Klass:
    return Klass(
        modified=modified,
        title=row.get("title"),
        code=row.get("classCode"),
        type=row.required("classType").lower(),
        school=row.required("schoolSourcedId"),
    )


def _enrollment(row: Row, modified, _title) -> Enrollment:
    return Enrollment(
        modified=modified,
        klass=row.required("classSourcedId"),
        school=row.get("schoolSourcedId"),
        user=row.required("userSourcedId"),
        role=row.required("role").lower(),
        primary=row.boolean("primary") is True,
    )


def _demographic(row: Row, modified, _title) -> Demographic:
    return Demographic(modified=modified, birth_date=row.date("birthDate", personal=True))


_PARSERS = {
    "orgs": _org,
    "roles": _role,
    "users": _user,
    "classes": _klass,
    "enrollments": _enrollment,
    "demographics": _demographic,
}
