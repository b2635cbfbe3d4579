"""Commands that only read the store: `runs`, `changes`, `explain`, `export`."""

from __future__ import annotations

import json
import sys

import click

from . import ENTITY, Context, NoConnector, handled, main, pass_ctx
from .output import OPS, PAGE, change_table, fmt_counts, print_json, table, write_csv


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
            "merged",
            "message",
        ],
        rows,
    )


@main.command()
@click.option("--school", help="The school (optional when one is configured).")
@click.option("--run", "run_no", type=int, help="The run (default: the latest completed run).")
@click.option("--entity", type=ENTITY, help="Only this entity.")
@click.option("--op", type=click.Choice(list(OPS)), help="Only this kind of change.")
@click.option("--id", "rid", help="Only this record (its MIS ID: a pupil's links come too).")
@click.option(
    "--limit",
    type=click.IntRange(0),
    help=f"Events to show (default {PAGE} in a table, all with --json; 0 for all).",
)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_ctx
@handled
def changes(ctx: Context, school, run_no, entity, op, rid, limit, as_json):
    """Show the change events of a run, with old and new field values."""
    store, key = ctx.store(), ctx.school_key(school)
    filters = dict(entity=entity, op=op, rid=rid)
    if as_json:
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


@main.command()
@click.argument("entity", type=ENTITY)
@click.argument("record_id")
@click.option("--school", help="The school (optional when one is configured).")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_ctx
@handled
def explain(ctx: Context, entity, record_id, school, as_json):
    """Say whether a record is kept and, if not, why (the ID as the MIS gives it)."""
    answer = ctx.store().explain(ctx.school_key(school), entity, record_id)
    if as_json:
        return print_json(answer)
    _print_explained(answer)
    for part in answer.get("parts", ()):
        _print_explained(part, indent=1)


def _print_explained(answer: dict, indent: int = 0) -> None:
    state = "kept" if answer["kept"] else "left out"
    if "split_into" in answer:
        state = "split"
    click.echo(f"{'  ' * indent}{answer['entity']} {answer['id']}: {state}")
    for n, reason in enumerate(answer["reasons"]):
        click.echo(f"{'  ' * (indent + n + 1)}{'because ' if n else ''}{reason}")


@main.command()
@click.argument("entity", type=click.Choice([*ENTITY.choices, "parents"]))
@click.option("--school", help="The school (optional when one is configured).")
@click.option(
    "--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True
)
@pass_ctx
@handled
def export(ctx: Context, entity, school, fmt):
    """Print the kept records of one entity (or parents, with pupils) as JSON or CSV."""
    from ..pipeline import local_fields
    from ..plugins import manager

    store = ctx.store()
    if entity == "parents":
        return _export_parents(store.export_parents(ctx.school_key(school)), fmt)
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


def _export_parents(rows: list[dict], fmt: str) -> None:
    """JSON keeps the pupils as a list; CSV, read by people in a spreadsheet, in words."""
    if fmt == "json":
        return print_json(rows)
    from ..store.queries import PARENT_FIELDS

    write_csv([*PARENT_FIELDS, "pupils"], parents_csv_rows(rows))


def parents_csv_rows(rows: list[dict]) -> list[dict]:
    """Export Parents rows for a spreadsheet: the pupils in words (the dashboard's CSV too)."""

    def pupil(p: dict) -> str:
        about = [p["relationship"] or "relationship not set"]
        if p["parental_responsibility"]:
            about.append("parental responsibility")
        return f"{p['student_id']} ({', '.join(about)})"

    return [{**r, "pupils": "; ".join(pupil(p) for p in r["pupils"])} for r in rows]
