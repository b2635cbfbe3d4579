"""Commands that change what the school owns: `set`."""

from __future__ import annotations

import click

from . import Context, command, given_id
from .output import print_json


@command(name="set")
@click.argument("entity", type=click.Choice(["teachers", "teacher"]))
@click.argument("record_id")
@click.argument("field", type=click.Choice(["room"]))
@click.argument("value", required=False)
@click.option("--clear", is_flag=True, help="Clear the field instead of setting it.")
@click.option("--school", help="The school (optional when one is configured).")
def set_local(ctx: Context, entity, record_id, field, value, clear, school):
    """Set or clear a school-owned field that no sync overwrites."""
    if clear == (value is not None):
        raise click.UsageError("give a VALUE, or --clear (not both)")
    given_id(record_id)
    entity = entity.removesuffix("s") + "s"  # `teacher` too, as people say it
    store = ctx.reader()  # a record to set a field on must already be stored
    key = ctx.school_key(school, store)
    store.set_local(key, entity, record_id, field, value)
    if ctx.quiet:
        return
    if ctx.json:
        return print_json({"school": key, "entity": entity, "id": record_id, field: value})
    shown = "cleared" if value is None else f"= {value}"
    click.echo(f"{entity.removesuffix('s')} {record_id}: {field} {shown}")
