"""Commands that only read the store: `runs`, `changes`, `explain`, `export`.

Each opens the store with `ctx.reader()` (never creating a database) and checks `--school`
with `ctx.school_key`, so a typo is exit 2, never an empty answer.
"""

from __future__ import annotations

import click

from . import ENTITY, Context, NoConnector, command
from .output import (
    csv_cell,
    csv_text,
    fmt_changes,
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
def changes(ctx: Context, school, run_no):
    """Show the change events of a run, with old and new field values."""
    store = ctx.reader()
    rows = store.changes(ctx.school_key(school, store), run_no)
    if ctx.json:
        return print_json(rows)
    table(
        "Changes",
        ["run", "entity", "id", "op", "changes"],
        [{**r, "changes": fmt_changes(r["changes"])} for r in rows],
    )


@command()
@click.argument("entity", type=ENTITY)
@click.argument("record_id")
@click.option("--school", help="The school (optional when one is configured).")
def explain(ctx: Context, entity, record_id, school):
    """Say whether a record is kept and, if not, the chain of reasons."""
    store = ctx.reader()
    answer = store.explain(ctx.school_key(school, store), entity, record_id)
    if ctx.json:
        return print_json(answer)
    click.echo(f"{entity} {record_id}: {'kept' if answer['kept'] else 'left out'}")
    for n, reason in enumerate(answer["reasons"]):
        click.echo(f"{'  ' * (n + 1)}{'because ' if n else ''}{reason}")


@command()
@click.argument("entity", type=ENTITY)
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
    """Print or write the kept records of one entity as a table, JSON or CSV."""
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
    local = local_fields(manager(NoConnector()))
    rows = store.export(key, entity, local)
    columns = list(export_fields(entity))
    if fmt == "table":
        return table(entity, columns, [{c: csv_cell(r[c]) for c in columns} for r in rows])
    text = json_text(rows) if fmt == "json" else csv_text(columns, rows, bom=bom)
    if not output:
        return click.echo(text, nl=False)
    write_file(output, text)
    if not ctx.quiet:
        click.echo(f"{key}: {len(rows)} {entity} written to {output} ({fmt})")
