"""OneRoster CSV exchanges written by the tests, and ways to sync them through the real
connector, pipeline and store (or the CLI).

The district has two schools, Oak (`sch-oak`, the one the tests sync) and Elm. People's names
come from syllables with a fixed seed; emails are example.org.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import random
import zipfile
from pathlib import Path

from click.testing import CliRunner

from mis_sync.core import pipeline
from mis_sync.core.cli import main
from mis_sync.core.config import Config

ORG = "sch-oak"
HEADERS = {
    "orgs": ["sourcedId", "status", "dateLastModified", "name", "type", "identifier"]
    + ["parentSourcedId"],
    "users": ["sourcedId", "status", "dateLastModified", "enabledUser", "orgSourcedIds", "role"]
    + ["username", "userIds", "givenName", "familyName", "middleName", "identifier", "email"]
    + ["sms", "phone", "agentSourcedIds", "grades", "password", "metadata.title"],
    "classes": ["sourcedId", "status", "dateLastModified", "title", "grades", "courseSourcedId"]
    + ["classCode", "classType", "location", "schoolSourcedId", "termSourcedIds", "subjects"]
    + ["subjectCodes", "periods"],
    "enrollments": ["sourcedId", "status", "dateLastModified", "classSourcedId"]
    + ["schoolSourcedId", "userSourcedId", "role", "primary", "beginDate", "endDate"],
    "academicSessions": ["sourcedId", "status", "dateLastModified", "title", "type"]
    + ["startDate", "endDate", "parentSourcedId", "schoolYear"],
    "demographics": ["sourcedId", "status", "dateLastModified", "birthDate", "sex"],
    "roles": ["sourcedId", "status", "dateLastModified", "userSourcedId", "roleType", "role"]
    + ["beginDate", "endDate", "orgSourcedId", "userProfileSourcedId"],
}
# 1.2's users.csv: no role, no orgSourcedIds (roles.csv holds them), preferred names
HEADERS_1_2 = {
    "users": [h for h in HEADERS["users"] if h not in ("role", "orgSourcedIds")]
    + ["preferredGivenName", "preferredFamilyName", "primaryOrgSourcedId"]
}
FILES = ("academicSessions", "classes", "demographics", "enrollments", "orgs", "users")

_SYLLABLES = ("zo", "qua", "vel", "rin", "tox", "ul", "mab", "ery") + (
    ("sil", "dra", "pex", "oon", "wyl", "fae", "gri", "nox")
)


def names(count: int, seed: int = 8) -> list[tuple[str, str]]:
    """(given, family) pairs made of syllables: no real person's name is used."""
    rng = random.Random(seed)

    def word(n: int) -> str:
        return "".join(rng.choice(_SYLLABLES) for _ in range(n)).capitalize()

    return [(word(2), word(3)) for _ in range(count)]


N = names(12)


def user(sid, role, orgs, n, *, title="", agents="", grades="", **extra) -> dict:
    given, family = N[n]
    return {
        "sourcedId": sid,
        "enabledUser": "true",
        "orgSourcedIds": orgs,
        "role": role,
        "username": f"{given.lower()}.{sid}",
        "givenName": given,
        "familyName": family,
        "email": f"{given.lower()}.{family.lower()}@example.org",
        "agentSourcedIds": agents,
        "grades": grades,
        "metadata.title": title,
        **extra,
    }


def klass(sid, code, class_type, school=ORG, title=None) -> dict:
    return {
        "sourcedId": sid,
        "title": title or f"{code} {class_type}",
        "courseSourcedId": f"course-{code}",
        "classCode": code,
        "classType": class_type,
        "schoolSourcedId": school,
        "termSourcedIds": "term-1",
    }


def enrol(sid, klass_id, user_id, role, primary="", school=ORG) -> dict:
    return {
        "sourcedId": sid,
        "classSourcedId": klass_id,
        "schoolSourcedId": school,
        "userSourcedId": user_id,
        "role": role,
        "primary": primary,
    }


SCHOOL = {
    "orgs": [
        {"sourcedId": "dist-1", "name": "Valley District", "type": "district"},
        {"sourcedId": ORG, "name": "Oak School", "type": "school", "parentSourcedId": "dist-1"},
        {"sourcedId": "sch-elm", "name": "Elm School", "type": "school"},
    ],
    "users": [
        user("s1", "student", ORG, 0, agents="p1,p2", grades="07"),
        user("s2", "student", ORG, 1, agents="g1", grades="07"),
        user("s3", "student", "sch-elm", 2, grades="08"),
        user("t1", "teacher", ORG, 3, title="Ms"),
        user("t2", "teacher", "sch-oak,sch-elm", 4, title="Mr"),
        user("t3", "teacher", "sch-elm", 5, title="Dr"),
        user("p1", "parent", "dist-1", 6, title="Mrs", phone="01632 960001"),
        user("p2", "relative", ORG, 7, title="Mr", sms="07700 900002"),
        user("g1", "guardian", ORG, 8, title="Mx"),
    ],
    "classes": [
        klass("c-7a", "7A", "homeroom"),
        klass("c-ma7", "7Ma1", "scheduled", title="Year 7 Maths, set 1"),
        klass("c-elm", "8Sc", "scheduled", school="sch-elm"),
    ],
    "enrollments": [
        enrol("e1", "c-7a", "s1", "student"),
        enrol("e2", "c-7a", "s2", "student"),
        enrol("e3", "c-7a", "t1", "teacher", "true"),
        enrol("e4", "c-7a", "t2", "teacher", "false"),
        enrol("e5", "c-ma7", "s1", "student"),
        enrol("e6", "c-ma7", "t2", "teacher", "TRUE"),
        enrol("e7", "c-ma7", "t1", "teacher", "FALSE"),
        enrol("e8", "c-elm", "s3", "student", school="sch-elm"),
        enrol("e9", "c-elm", "t3", "teacher", "true", school="sch-elm"),
    ],
    "academicSessions": [
        {
            "sourcedId": "term-1",
            "title": "2024/25",
            "type": "schoolYear",
            "startDate": "2024-09-01",
            "endDate": "2025-07-31",
            "schoolYear": "2025",
        }
    ],
    "demographics": [{"sourcedId": "s1", "birthDate": "2012-03-04", "sex": "female"}],
}


def school(**changes) -> dict:
    """A copy of SCHOOL with whole files replaced (users=[...]); None leaves a file absent."""
    data = copy.deepcopy(SCHOOL)
    data.update(copy.deepcopy(changes))
    return data


def csv_bytes(name: str, rows: list[dict], *, bom=False, crlf=True, header=None) -> bytes:
    header = header or HEADERS[name]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n" if crlf else "\n")
    writer.writerow(header)
    for row in rows:
        unknown = set(row) - set(header)
        assert not unknown, f"{name}: no column {unknown} in the header"
        writer.writerow([row.get(h, "") for h in header])
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode()


def as_1_2(data: dict) -> dict:
    """The same school as OneRoster 1.2 writes it: each user's role and orgs in roles.csv."""
    data = copy.deepcopy(data)
    if data.get("users") is not None:
        roles = data.setdefault("roles", [])
        for u in data["users"]:
            for n, org in enumerate(u.pop("orgSourcedIds", "").split(",")):
                roles.append(
                    {
                        "sourcedId": f"role-{u['sourcedId']}-{n}",
                        **{k: u[k] for k in ("status", "dateLastModified") if k in u},
                        "userSourcedId": u["sourcedId"],
                        "roleType": "primary" if n == 0 else "secondary",
                        "role": u["role"],
                        "orgSourcedId": org,
                    }
                )
            u.pop("role")
    return data


def write(
    dest: Path,
    data: dict,
    *,
    version: str = "1.1",
    modes: dict | None = None,
    as_zip: bool = False,
    bom: bool = False,
    crlf: bool = True,
    raw: dict[str, bytes] | None = None,
    headers: dict[str, list[str]] | None = None,
) -> Path:
    """An exchange as a folder or zip: every file of `data` bulk unless `modes` says
    otherwise; a file whose data is None is absent. `raw` puts bytes in as they are, and
    `headers` replaces a file's header (other columns, another order)."""
    names = (*FILES, "roles") if version == "1.2" else FILES
    headers = (HEADERS_1_2 if version == "1.2" else {}) | (headers or {})
    modes = {name: ("absent" if data.get(name) is None else "bulk") for name in names} | (
        modes or {}
    )
    files = {
        "manifest.csv": csv_bytes(
            "manifest",
            [{"propertyName": "manifest.version", "value": "1.0"}]
            + [{"propertyName": "oneroster.version", "value": version}]
            + [{"propertyName": f"file.{n}", "value": modes[n]} for n in names],
            header=["propertyName", "value"],
            bom=bom,
            crlf=crlf,
        )
    }
    for name in names:
        if modes[name] != "absent":
            header = headers.get(name)
            files[f"{name}.csv"] = csv_bytes(name, data[name], bom=bom, crlf=crlf, header=header)
    files.update(raw or {})
    if as_zip:
        path = dest.with_suffix(".zip")
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for fname, content in files.items():
                z.writestr(fname, content)
        return path
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("*.csv"):
        old.unlink()
    for fname, content in files.items():
        (dest / fname).write_bytes(content)
    return dest


def delta(rows: list[dict], modified="2025-01-10T08:00:00Z", status="active") -> list[dict]:
    """Rows as a delta file sends them: each with a status and a dateLastModified."""
    return [{"status": status, "dateLastModified": modified, **r} for r in rows]


def options(path: Path, **extra) -> dict:
    return {"connector": "oneroster", "path": str(path), "org": ORG, **extra}


def sync(store, path: Path, *, key="oak", **kwargs) -> dict:
    """One run of a school through the real connector and pipeline."""
    config = Config(schools={key: options(path, **kwargs.pop("options", {}))})
    school_, pm = pipeline.prepare(config, key)
    return pipeline.run_school(store, school_, pm, **kwargs)


LOCAL = {"teachers": {"room"}}


def export(store, entity, key="oak") -> dict:
    return {
        r["id"] if "id" in r else (r["student_id"], r["contact_id"]): r
        for r in store.export(key, entity, LOCAL)
    }


def write_config(folder: Path, database: str, path: Path, **extra) -> Path:
    lines = [f'database = "{database}"', "", "[schools.oak]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in options(path, **extra).items()]
    config = folder / "mis-sync.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


def cli(*args: str):
    """Invoke the CLI in-process; stdout and stderr stay apart."""
    return CliRunner().invoke(main, list(args))
