"""Commands for pupils' data lifecycle: `purge`, `forget`, `export-person` (data-protection.md)."""

from __future__ import annotations

import click

from . import Context, handled, main, pass_ctx
from .output import print_json

PERSON = click.Choice(["students", "contacts", "teachers"])


@main.command()
@click.option("--school", help="Only this school (default: every configured school).")
@click.option("--dry-run", is_flag=True, help="Say what would be purged; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_ctx
@handled
def purge(ctx: Context, school, dry_run, as_json):
    """Purge what is older than each school's retention_days (as every run does)."""
    from ..errors import ConfigError
    from ..pipeline import prepare, purge_school

    config = ctx.config
    keys = [school] if school else sorted(config.schools)
    if not keys:
        raise ConfigError(f"{config.path or 'config'}: no schools are configured")
    schools = [prepare(config, key)[0] for key in keys]  # every school checked before any purge
    store = ctx.store()
    results = [purge_school(store, s, dry_run=dry_run) for s in schools]
    if as_json:
        return print_json(results if len(results) > 1 or not school else results[0])
    for r in results:
        verb = "would purge" if dry_run else "purged"
        click.echo(
            f"{r['school']}: {verb} {r['records']} records no longer kept since before"
            f" {r['before']}, the values of {r['events']} events and {r['summaries']} run"
            f" summaries, {r['left_out']} left-out rows"
        )


@main.command()
@click.argument("entity", type=PERSON)
@click.argument("record_id")
@click.option("--school", help="The school (optional when one is configured).")
@click.option("--yes", is_flag=True, help="Confirm: the data cannot be brought back.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_ctx
@handled
def forget(ctx: Context, entity, record_id, school, yes, as_json):
    """Erase one person's data from the store now (right to erasure)."""
    from ..errors import ConfigError

    key = ctx.school_key(school)
    if not yes:
        raise ConfigError(
            f"forget erases {entity} {record_id!r} of school {key!r} for good; pass --yes"
        )
    from ..pipeline import forget_person

    done = forget_person(ctx.store(), ctx.config, key, entity, record_id)
    if as_json:
        return print_json(done)
    removed = ", ".join(f"{n} {place}" for place, n in done["removed"].items() if n)
    click.echo(f"{key}: {entity} {record_id} forgotten ({removed}); the erasure is recorded.")
    click.echo(
        "  If the MIS still sends this record, the next run stores it again:"
        " remove or correct it in the MIS first."
    )
    if done["source_state"] == "edited":
        click.echo("  They were removed from the connector's copy of its source too.")
    elif done["source_state"] == "dropped":
        click.echo(
            "  The connector's copy of its source was dropped: the next run needs a full export."
        )


@main.command(name="export-person")
@click.argument("entity", type=PERSON)
@click.argument("record_id")
@click.option("--school", help="The school (optional when one is configured).")
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), help="Write to FILE.")
@pass_ctx
@handled
def export_person(ctx: Context, entity, record_id, school, output):
    """Everything stored about one person, as JSON (a subject access request)."""
    import json

    answer = ctx.store().person(ctx.school_key(school), entity, record_id)
    if output is None:
        return print_json(answer)
    output.write(json.dumps(answer, indent=2, ensure_ascii=False) + "\n")
