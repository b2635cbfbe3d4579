"""Commands for pupils' data lifecycle: `purge`, `forget`, `export-person` (data-protection.md)."""

from __future__ import annotations

import click

from . import LOOKED_AT, Context, command, given_id
from .output import json_text, print_json, write_file

PERSON = click.Choice(["students", "contacts", "teachers"])


@command()
@click.option("--school", help="Only this school (default: every configured school).")
@click.option("--dry-run", is_flag=True, help="Say what would be purged; change nothing.")
def purge(ctx: Context, school, dry_run):
    """Purge what is older than each school's retention_days (as every run does)."""
    from ..errors import ConfigError
    from ..pipeline import prepare, purge_school

    config = ctx.config
    if config.path is None:
        # unlike the listing commands, no fall-back to the demo database: a cron job whose
        # config went missing must fail, not report a purge of made-up schools as done
        raise ConfigError(
            f"purge: no config file found (looked at {LOOKED_AT}), so no database to purge;"
            " the demo database needs none (every demo run purges it)"
        )
    store = ctx.reader()
    keys = [ctx.school_key(school, store)] if school else sorted(config.schools)
    if not keys:
        raise ConfigError(f"{config.path or 'config'}: no schools are configured")
    schools = [prepare(config, key)[0] for key in keys]  # every school checked before any purge
    results = [purge_school(store, s, dry_run=dry_run) for s in schools]
    if ctx.quiet:
        return
    if ctx.json:
        return print_json(results if len(results) > 1 or not school else results[0])
    for r in results:
        verb = "would purge" if dry_run else "purged"
        click.echo(
            f"{r['school']}: {verb} {r['records']} records no longer kept since before"
            f" {r['before']}, the values of {r['events']} events and {r['summaries']} run"
            f" summaries, {r['left_out']} left-out rows, {r['would_delete']} would-be deletes"
            " of stopped runs"
        )


@command()
@click.argument("entity", type=PERSON)
@click.argument("record_id")
@click.option("--school", help="The school (optional when one is configured).")
@click.option("--yes", is_flag=True, help="Confirm: the data cannot be brought back.")
def forget(ctx: Context, entity, record_id, school, yes):
    """Erase one person's data from the store now (right to erasure)."""
    from ..errors import ConfigError

    given_id(record_id)
    store = ctx.reader()
    key = ctx.school_key(school, store)
    if not yes:
        raise ConfigError(
            f"forget erases {entity} {record_id!r} of school {key!r} for good; pass --yes"
        )
    from ..pipeline import forget_person

    done = forget_person(store, ctx.config, key, entity, record_id)
    if ctx.json:
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


@command(name="export-person")
@click.argument("entity", type=PERSON)
@click.argument("record_id")
@click.option("--school", help="The school (optional when one is configured).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to FILE.")
def export_person(ctx: Context, entity, record_id, school, output):
    """Everything stored about one person, as JSON (a subject access request)."""
    given_id(record_id)
    store = ctx.reader()
    answer = store.person(ctx.school_key(school, store), entity, record_id)
    if output is None:
        return print_json(answer)
    write_file(output, json_text(answer))
