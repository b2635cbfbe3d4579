"""Commands that only read the store: `runs`, `changes`, `explain`, `export`."""

from __future__ import annotations

import json
import sys

import click

from . import ENTITY, Context, NoConnector, handled, main, pass_ctx
from .output import fmt_changes, print_json, table


@main.command()
@click.option("--school", help="Only this school.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_ctx
@handled
def runs(ctx: Context, school, as_json):
    """List past runs: when, status and counts."""
    rows = ctx.store().runs(school)
    if as_json:
        return print_json(rows)
    table(
        "Runs",
        [
            "run",
            "school",
            "connector",
            "status",
            "started",
            "inserted",
            "updated",
            "deleted",
            "left_out",
            "message",
        ],
        rows,
    )


@main.command()
@click.option("--school", help="The school (optional when one is configured).")
@click.option("--run", "run_no", type=int, help="The run (default: the latest completed run).")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_ctx
@handled
def changes(ctx: Context, school, run_no, as_json):
    """Show the change events of a run, with old and new field values."""
    rows = ctx.store().changes(ctx.school_key(school), run_no)
    if as_json:
        return print_json(rows)
    table(
        "Changes",
        ["run", "entity", "id", "op", "changes", "who", "when"],
        [{**r, "changes": fmt_changes(r["changes"])} for r in rows],
    )


@main.command()
@click.argument("entity", type=ENTITY)
@click.argument("record_id")
@click.option("--school", help="The school (optional when one is configured).")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_ctx
@handled
def explain(ctx: Context, entity, record_id, school, as_json):
    """Say whether a record is kept and, if not, the chain of reasons."""
    answer = ctx.store().explain(ctx.school_key(school), entity, record_id)
    if as_json:
        return print_json(answer)
    click.echo(f"{entity} {record_id}: {'kept' if answer['kept'] else 'left out'}")
    for n, reason in enumerate(answer["reasons"]):
        click.echo(f"{'  ' * (n + 1)}{'because ' if n else ''}{reason}")


@main.command()
@click.argument("entity", type=ENTITY)
@click.option("--school", help="The school (optional when one is configured).")
@click.option(
    "--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True
)
@pass_ctx
@handled
def export(ctx: Context, entity, school, fmt):
    """Print the kept records of one entity as JSON or CSV."""
    from ..pipeline import local_fields
    from ..plugins import manager

    store = ctx.store()
    local = local_fields(manager(NoConnector()))
    rows = store.export(ctx.school_key(school), entity, local)
    if fmt == "json":
        return print_json(rows)
    import csv

    from ..schema import export_fields

    writer = csv.DictWriter(sys.stdout, fieldnames=export_fields(entity), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in row.items()}
        )
