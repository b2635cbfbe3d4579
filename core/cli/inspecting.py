"""Commands that only read the store: `runs`, `changes`, `explain`, `export`.

Each opens the store with `ctx.reader()` (never creating a database) and checks `--school`
with `ctx.school_key`, so a typo is exit 2, never an empty answer.
"""

from __future__ import annotations

import click

from . import ENTITY, Context, NoConnector, command, given_id
from .output import (
    OPS,
    PAGE,
    change_table,
    csv_cell,
    csv_text,
    fmt_counts,
    json_text,
    print_json,
    print_runs,
    table,
    write_file,
)

# the largest run number the store's integer column holds, on SQLite and PostgreSQL alike
RUN_NUMBER = click.IntRange(1, 2**31 - 1)


@command()
@click.option("--school", help="Only this school.")
@click.option(
    "--limit", type=click.IntRange(1, 100_000), default=20, show_default=True, help="Newest N."
)
def runs(ctx: Context, school, limit):
    """List past runs: when, status and counts."""
    store = ctx.reader()
    if school is not None:
        school = ctx.school_key(school, store)
    rows = store.runs(school, limit=limit)
    if ctx.json:
        return print_json(rows)
    print_runs(rows)


@command()
@click.option("--school", help="The school (optional when one is configured).")
@click.option("--run", "run_no", type=RUN_NUMBER, help="The run (default: the latest completed).")
@click.option("--entity", type=ENTITY, help="Only this entity.")
@click.option("--op", type=click.Choice(list(OPS)), help="Only this kind of change.")
@click.option("--id", "rid", help="Only this record (its MIS ID: a pupil's links come too).")
@click.option(
    "--limit",
    type=click.IntRange(0),
    help=f"Events to show (default {PAGE} in a table, all with --json; 0 for all).",
)
def changes(ctx: Context, school, run_no, entity, op, rid, limit):
    """Show the change events of a run, with old and new field values."""
    rid = given_id(rid, "--id")
    store = ctx.reader()
    key = ctx.school_key(school, store)
    filters = dict(entity=entity, op=op, rid=rid)
    if run_no is not None and _was_stopped(store, key, run_no):
        return _would_delete(ctx, store, key, run_no, entity, op, rid, limit)
    if ctx.json:
        return print_json(store.changes(key, run_no, **filters, limit=limit or None))
    summary = store.change_summary(key, run_no, **filters)
    if summary["run"] is None:
        return click.echo(f"{key}: no successful run yet")
    if not summary["counts"]:
        latest = summary["latest_changing"]
        hint = (
            f"the latest run that changed something is run {latest} (mis-sync changes --run"
            f" {latest})"
            if latest
            else "no run has changed anything yet"
        )
        return click.echo(f"{key}: run {summary['run']} changed nothing; {hint}")
    click.echo(f"{key}: run {summary['run']}")
    for line in fmt_counts(summary["counts"]):
        click.echo(f"  {line}")
    shown = PAGE if limit is None else limit or None
    events = store.changes(key, summary["run"], **filters, limit=shown)
    change_table("Changes", events)
    if len(events) < summary["matched"]:
        click.echo(f"{summary['matched'] - len(events)} more, use --limit")


def _was_stopped(store, key: str, run_no: int) -> bool:
    """Whether `run_no` is the school's and the safeguard stopped it (another school's run
    is refused by `changes` itself, with its own message)."""
    from sqlalchemy.exc import NoResultFound

    try:
        info = store.run(run_no)
    except NoResultFound:
        return False
    return info["school"] == key and info["status"] == "stopped"


def _would_delete(ctx: Context, store, key: str, run_no: int, entity, op, rid, limit) -> None:
    """A stopped run has no events: what it would have deleted, as events of op
    `would-delete` with --json, else counts and a table. Only `--op delete` matches them."""
    from ..store.stopped import as_events

    shown = (None if ctx.json else PAGE) if limit is None else limit or None
    groups = {}
    if op in (None, "delete"):  # nothing was deleted, so no other kind of change matches
        groups = store.would_delete(run_no, entity=entity, rid=rid, per_entity=shown)
    events = as_events(run_no, groups)[:shown]
    if ctx.json:
        return print_json(events)
    if not groups:
        return click.echo(
            f"{key}: run {run_no} was stopped by the safeguard and wrote nothing;"
            " no key it would have deleted matches (or none was kept for it)"
        )
    click.echo(f"{key}: run {run_no} was stopped by the safeguard and wrote nothing")
    for ent, group in groups.items():
        click.echo(f"  {ent}: {group['count']} would have deleted")
    table("Would have deleted", ["entity", "id"], events)
    total = sum(g["count"] for g in groups.values())
    if len(events) < total:
        click.echo(f"{total - len(events)} more, use --limit")


@command()
@click.argument("entity", type=ENTITY)
@click.argument("record_id")
@click.option("--school", help="The school (optional when one is configured).")
def explain(ctx: Context, entity, record_id, school):
    """Say whether a record is kept and, if not, why (the ID as the MIS gives it)."""
    given_id(record_id)
    store = ctx.reader()
    answer = store.explain(ctx.school_key(school, store), entity, record_id)
    if ctx.json:
        return print_json(answer)
    _print_explained(answer)
    for part in answer.get("parts", ()):
        _print_explained(part, indent=1)


def _print_explained(answer: dict, indent: int = 0) -> None:
    """The rule, then its causes as one flat list of siblings, as --json lists them: each cause
    is a record the rule found wanting, not a cause of the cause above it."""
    state = "kept" if answer["kept"] else "left out"
    if "split_into" in answer:
        state = "split"
    pad = "  " * indent
    click.echo(f"{pad}{answer['entity']} {answer['id']}: {state}")
    rule, *causes = answer["reasons"] or [None]
    if rule is not None:
        click.echo(f"{pad}  {rule}")
    for cause in causes:
        click.echo(f"{pad}    {'' if cause.startswith('and ') else 'because '}{cause}")


@command()
@click.argument("entity", type=click.Choice([*ENTITY.choices, "parents"]))
@click.option("--school", help="The school (optional when one is configured).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    help="Default: table; with -o, from the file's suffix (.json, else csv).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="Write to FILE (UTF-8) instead of stdout.",
)
@click.option("--bom", is_flag=True, help="Begin CSV with a byte-order mark, for spreadsheets.")
def export(ctx: Context, entity, school, fmt, output, bom):
    """The kept records of one entity (or parents) as a table, JSON or CSV."""
    # `export parents` is the product guide's "Export Parents": each contact with their pupils
    from ..pipeline import local_fields
    from ..plugins import manager
    from ..schema import export_fields

    if ctx.json:
        fmt = "json"
    elif fmt is None:
        fmt = ("json" if output.lower().endswith(".json") else "csv") if output else "table"
    if fmt == "table" and output:
        raise click.UsageError("-o writes JSON or CSV: pass --format json or --format csv")
    store = ctx.reader()
    key = ctx.school_key(school, store)
    if entity == "parents":
        rows, columns = _parents(store.export_parents(key), fmt)
    else:
        rows = store.export(key, entity, local_fields(manager(NoConnector())))
        columns = list(export_fields(entity))
    if fmt == "table":
        return table(entity, columns, [{c: csv_cell(r[c]) for c in columns} for r in rows])
    text = json_text(rows) if fmt == "json" else csv_text(columns, rows, bom=bom)
    if not output:
        return click.echo(text, nl=False)
    write_file(output, text)
    if not ctx.quiet:
        click.echo(f"{key}: {len(rows)} {entity} written to {output} ({fmt})")


def _parents(rows: list[dict], fmt: str) -> tuple[list[dict], list[str]]:
    """JSON keeps each contact's pupils as a list; a table or CSV, read by people, in words."""
    from ..store.queries import PARENT_FIELDS

    columns = [*PARENT_FIELDS, "pupils"]
    if fmt == "json":
        return rows, columns
    return parents_csv_rows(rows), columns


def parents_csv_rows(rows: list[dict]) -> list[dict]:
    """Export Parents rows for a spreadsheet: the pupils in words (the dashboard's CSV too)."""

    def pupil(p: dict) -> str:
        about = [p["relationship"] or "relationship not set"]
        if p["parental_responsibility"]:
            about.append("parental responsibility")
        return f"{p['student_id']} ({', '.join(about)})"

    return [{**r, "pupils": "; ".join(pupil(p) for p in r["pupils"])} for r in rows]
