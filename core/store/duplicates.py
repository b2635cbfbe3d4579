"""The near-duplicate register: pairs of contacts that look like one person, kept across runs.

A run finds near duplicates (core/rules.py) and reports them; the register remembers them, so
a school can work through the list at its own pace: first and last seen, still present or
not, the two records side by side, and the pairs it has dismissed as two people. Written in
the run's own transaction (`record`), read by the CLI and the web alike (`Duplicates`).
"""

from __future__ import annotations

import json

from sqlalchemy import Connection, and_, bindparam, select, update

from ..errors import ConfigError
from . import tables as t

COMPARED = ("title", "forename", "surname", "email", "phone", "relationship")


def record(conn: Connection, run: int, school: str, started: str, dataset) -> None:
    """Add this run's pairs and refresh those seen again; a dismissal is kept as it was."""
    nd = t.near_duplicates
    known = {
        (a, b) for a, b in conn.execute(select(nd.c.a, nd.c.b).where(nd.c.school == school)).all()
    }
    fresh, seen = [], []
    for a, b, why in dataset.near_duplicates:
        pair = {a: dataset.near_duplicate_records.get(a), b: dataset.near_duplicate_records.get(b)}
        row = {"k_a": a, "k_b": b, "why": why, "records": json.dumps(pair, sort_keys=True)}
        (seen if (a, b) in known else fresh).append(row)
    if fresh:
        conn.execute(
            nd.insert(),
            [
                {
                    "school": school,
                    "a": r["k_a"],
                    "b": r["k_b"],
                    "why": r["why"],
                    "first_seen": started,
                    "last_seen": started,
                    "last_run": run,
                    "records": r["records"],
                }
                for r in fresh
            ],
        )
    if seen:
        conn.execute(
            update(nd)
            .where(
                and_(nd.c.school == school, nd.c.a == bindparam("k_a"), nd.c.b == bindparam("k_b"))
            )
            .values(
                last_seen=started, last_run=run, why=bindparam("why"), records=bindparam("records")
            ),
            seen,
        )


class Duplicates:
    """The register's read side and the one thing a person changes in it: a dismissal."""

    engine = None  # set by Store

    def duplicates(self, school: str, *, everything: bool = False) -> list[dict]:
        """The pairs still present and not dismissed; with `everything`, every pair ever seen.

        "Present" means reported by the school's latest successful run.
        """
        nd = t.near_duplicates
        with self.engine.connect() as conn:
            latest = conn.execute(
                select(t.runs.c.run)
                .where(t.runs.c.school == school, t.runs.c.status == "ok")
                .order_by(t.runs.c.run.desc())
                .limit(1)
            ).scalar()
            rows = conn.execute(
                select(nd).where(nd.c.school == school).order_by(nd.c.a, nd.c.b)
            ).mappings()
            out = [_pair(r, latest) for r in rows]
        if not everything:
            out = [p for p in out if p["present"] and not p["dismissed"]]
        return out

    def duplicate(self, school: str, a: str, b: str) -> dict:
        """One pair, named in either order; an unknown pair is a usage error (exit 2)."""
        return next(
            (p for p in self.duplicates(school, everything=True) if {p["a"], p["b"]} == {a, b}),
            None,
        ) or _unknown(school, a, b)

    def dismiss(self, school: str, a: str, b: str, when: str | None = None) -> dict:
        """Mark a pair "not a duplicate"; it stays so across runs (shown with --all).

        `when` defaults to now, in the store's one time format (tables.stamp)."""
        when = when or t.stamp()
        pair = self.duplicate(school, a, b)
        nd = t.near_duplicates
        with self.engine.begin() as conn:
            conn.execute(
                update(nd)
                .where(nd.c.school == school, nd.c.a == pair["a"], nd.c.b == pair["b"])
                .values(dismissed=when)
            )
        return {**pair, "dismissed": when}


def _unknown(school: str, a: str, b: str):
    raise ConfigError(
        f"school {school!r}: contacts {a} and {b} are not a near-duplicate pair in the register"
        " (mis-sync duplicates --all lists them)"
    )


def _pair(row, latest: int | None) -> dict:
    records = json.loads(row["records"])
    first, second = records.get(row["a"]) or {}, records.get(row["b"]) or {}
    same = [f for f in COMPARED if _norm(first.get(f)) == _norm(second.get(f))]
    return {
        "a": row["a"],
        "b": row["b"],
        "why": row["why"],
        "first_seen": row["first_seen"],
        "last_seen": row["last_seen"],
        "present": row["last_run"] == latest,
        "dismissed": row["dismissed"],
        "same": same,
        "different": [f for f in COMPARED if f not in same],
        "records": {row["a"]: first, row["b"]: second},
    }


def _norm(value) -> str:
    return str(value or "").strip().casefold()
