"""What the school's data manager works through: `left-out`, `duplicates`, `check sso`.

Thin: the lists come from the store's queries (core/store/) and core/fixes.py, the same ones
a web page would show; this module only picks the school and prints.
"""

from __future__ import annotations

import click

from . import ENTITY, Context, command, given_id, group, main
from .output import fmt_of, listing_options, output_to, print_json, table, write_csv

WORKLIST_COLUMNS = ["entity", "id", "reason", "because", "fix"]


@command(name="left-out")
@click.argument("entity", type=ENTITY, required=False)
@click.option("--school", help="The school (optional when one is configured).")
@click.option("--reason", help="Only records with a reason containing this text.")
@click.option("--id", "rid", help="Only this record (its MIS ID: a pupil's links come too).")
@click.option(
    "-o", "output", metavar="FILE", type=click.Path(dir_okay=False), help="Write to FILE."
)
@listing_options
def left_out(ctx: Context, entity, school, reason, rid, output, fmt):
    """The worklist: what the latest run left out, by reason, with what to fix."""
    from ..fixes import school_plugins, worklist

    rid = given_id(rid, "--id")
    store = ctx.reader()
    key = ctx.school_key(school, store)
    found = worklist(
        store, school_plugins(ctx.config, store, key), key, entity=entity, reason=reason, rid=rid
    )
    with output_to(output):
        _print_worklist(key, found, fmt_of(ctx, fmt))


def _print_worklist(key: str, found: dict, fmt: str) -> None:
    rows = [{**r, "because": "; ".join(r["reasons"][1:])} for r in found["records"]]
    if fmt == "json":
        return print_json(
            [
                {k: r[k] for k in ("entity", "id", "reason", "reasons", "merged", "fix")}
                for r in rows
            ]
        )
    if fmt == "csv":
        return write_csv(WORKLIST_COLUMNS, rows)
    if found["run"] is None:
        return click.echo(f"{key}: no successful run yet")
    merged = [r for r in rows if r["merged"]]
    out = [r for r in rows if not r["merged"]]
    click.echo(
        f"{key}: run {found['run']} left out {len(out)} records"
        + (f"; {len(merged)} merged into another contact" if merged else "")
    )
    groups: dict[str, list[dict]] = {}
    for r in [*out, *merged]:  # merged last: their data is kept, under another ID
        groups.setdefault(f"{r['entity']}: {r['reason']}", []).append(r)
    for label, members in sorted(
        groups.items(), key=lambda g: (g[1][0]["merged"], -len(g[1]), g[0])
    ):
        title = f"{label} ({len(members)}{', merged' if members[0]['merged'] else ''})"
        table(title, ["id", "because", "fix"], members)


@group()
@click.option("--school", help="The school (optional when one is configured).")
@click.option("--all", "everything", is_flag=True, help="Dismissed and no longer present too.")
@listing_options
def duplicates(ctx: Context, click_ctx, school, everything, fmt):
    """The near-duplicate contacts register, kept across runs."""
    if click_ctx.invoked_subcommand is not None:
        return
    store = ctx.reader()
    key = ctx.school_key(school, store)
    fmt = fmt_of(ctx, fmt)
    pairs = store.duplicates(key, everything=everything)
    rows = [
        {
            **p,
            "state": "dismissed" if p["dismissed"] else "present" if p["present"] else "gone",
            "same": ", ".join(p["same"]),
            "different": ", ".join(p["different"]),
        }
        for p in pairs
    ]
    if fmt == "json":
        return print_json(pairs)
    columns = ["a", "b", "why", "state", "first_seen", "last_seen", "same", "different"]
    if fmt == "csv":
        return write_csv(columns, rows)
    if store.latest_run(key) is None:
        return click.echo(f"{key}: no successful run yet")
    table(f"Near-duplicate contacts of {key}", columns, rows)
    if not rows:
        click.echo(
            f"{key}: no near duplicates to check"
            + ("" if everything else " (--all shows dismissed ones)")
        )


@command(duplicates)
@click.argument("a")
@click.argument("b")
@click.option("--school", help="The school (optional when one is configured).")
def dismiss(ctx: Context, a, b, school):
    """Mark contacts A and B "not a duplicate"; it stays so across runs."""
    given_id(a, "A")
    given_id(b, "B")
    store = ctx.reader()
    key = ctx.school_key(school, store)
    pair = store.dismiss(key, a, b)
    if ctx.json:
        return print_json(pair)
    if not ctx.quiet:
        click.echo(
            f"{key}: contacts {pair['a']} and {pair['b']} marked not a duplicate"
            f" ({pair['dismissed']})"
        )


@command(duplicates)
@click.argument("a")
@click.argument("b")
@click.option("--school", help="The school (optional when one is configured).")
def report(ctx: Context, a, b, school):
    """The example to send to the MIS's support: both records and their pupils."""
    from ..store.duplicates import COMPARED

    given_id(a, "A")
    given_id(b, "B")
    store = ctx.reader()
    key = ctx.school_key(school, store)
    pair = store.duplicate(key, a, b)
    if ctx.json:
        return print_json(pair)
    first, second = (pair["records"][pair[k]] for k in ("a", "b"))
    click.echo(
        f"School {key}: contacts {pair['a']} and {pair['b']} look like one person ({pair['why']}),"
        f" first seen {pair['first_seen']}, last seen {pair['last_seen']}."
    )
    rows = [
        {
            "field": f,
            pair["a"]: first.get(f),
            pair["b"]: second.get(f),
            "": "same" if f in pair["same"] else "differs",
        }
        for f in COMPARED
    ]
    rows.append({"field": "pupils", pair["a"]: _pupils(first), pair["b"]: _pupils(second), "": ""})
    table(
        "As the MIS sent them (trimmed, emails in lower case)",
        ["field", pair["a"], pair["b"], ""],
        rows,
    )


def _pupils(record: dict) -> str:
    return (
        "; ".join(
            f"{p['student_id']} ({p.get('relationship') or 'relationship not set'}"
            f"{', parental responsibility' if p.get('parental_responsibility') else ''})"
            for p in record.get("pupils", [])
        )
        or "none"
    )


@main.group()
def check() -> None:
    """Checks of the stored data against what the product needs."""


@command(check)
@click.option("--school", help="The school (optional when one is configured).")
@listing_options
def sso(ctx: Context, school, fmt):
    """Teachers and contacts whose email cannot match them at sign-in."""
    from .. import sso as checks

    store = ctx.reader()
    key = ctx.school_key(school, store)
    fmt = fmt_of(ctx, fmt)
    rows = checks.problems(store, key)
    if fmt == "json":
        return print_json(rows)
    columns = ["entity", "id", "email", "problem"]
    if fmt == "csv":
        return write_csv(columns, rows)
    if store.latest_run(key) is None:
        return click.echo(f"{key}: no successful run yet")
    table(f"Sign-in (SSO) problems of {key}", columns, rows)
    click.echo(
        f"{key}: {len(rows)} teachers and contacts cannot be matched by email"
        if rows
        else f"{key}: every teacher and contact can be matched by email"
    )
