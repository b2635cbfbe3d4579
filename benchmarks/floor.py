"""The floor: the least any sync of a Datashare school must do, in one process.

Fetch every page with httpx, decode it with msgspec into the wire Structs, and write every
record once into SQLite in one transaction. No mapping, no rules, no diff: whatever
`mis-sync run` costs beyond this is the sync's own work.

    python -m benchmarks.floor BASE_URL SCHOOL_ID CLIENT_ID SECRET_ENV DATABASE_FILE [SCHOOLS]

With SCHOOLS > 1 the process syncs the same source that many times, as that many schools,
one transaction each: what one more school costs a process that has already started.
"""

from __future__ import annotations

import os
import sqlite3
import sys

import httpx
import msgspec

from mis_sync.connectors.integris.wire import PAGE_DECODERS, RESOURCES


def main(
    base_url: str, school_id: str, client_id: str, secret_env: str, database: str, schools="1"
) -> int:
    db = sqlite3.connect(database)
    db.execute("CREATE TABLE IF NOT EXISTS raw (school INTEGER, resource TEXT, id TEXT, data TEXT)")
    tls = httpx.create_ssl_context()  # one for every school, as a run's clients share one
    rows = 0
    for school in range(int(schools)):
        rows += sync(base_url, school_id, client_id, secret_env, db, school, tls)
    db.close()
    print(f"floor: {rows} records written")
    return 0


def sync(base_url, school_id, client_id, secret_env, db, school: int, tls) -> int:
    rows = 0
    with httpx.Client(base_url=base_url, timeout=30, verify=tls) as http:
        token = http.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": os.environ[secret_env],
            },
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        encode = msgspec.json.encode
        for resource in RESOURCES:
            decoder = PAGE_DECODERS[resource]
            cursor = None
            while True:
                params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
                response = http.get(
                    f"/v1/schools/{school_id}/{resource}", params=params, headers=headers
                )
                page = decoder.decode(response.content)
                db.executemany(
                    "INSERT INTO raw VALUES (?, ?, ?, ?)",
                    [(school, resource, _id(r), encode(r).decode()) for r in page.data],
                )
                rows += len(page.data)
                cursor = page.meta.next_cursor
                if not cursor:
                    break
        db.commit()
    return rows


def _id(record) -> str:
    for name in ("student_id", "contact_id", "staff_id", "class_id", "group_id"):
        value = getattr(record, name, None)
        if value is not None and not isinstance(record, RESOURCES["contact-links"][0]):
            return value
    return f"{record.student_id}:{record.contact_id}"


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:7]))
