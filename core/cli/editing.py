"""Commands that change what the school owns: `set`."""

from __future__ import annotations

import click

from . import Context, handled, main, pass_ctx


@main.command(name="set")
@click.argument("entity", type=click.Choice(["teacher"]))
@click.argument("record_id")
@click.argument("field", type=click.Choice(["room"]))
@click.argument("value")
@click.option("--school", help="The school (optional when one is configured).")
@pass_ctx
@handled
def set_local(ctx: Context, entity, record_id, field, value, school):
    """Set a school-owned field that no sync overwrites."""
    key = ctx.school_key(school)
    ctx.store().set_local(key, entity + "s", record_id, field, value)
    click.echo(f"{entity} {record_id}: {field} = {value!r}")
