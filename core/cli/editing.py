"""Commands that change what the school owns: `set`."""

from __future__ import annotations

import click

from . import Context, command
from .output import print_json


@command(name="set")
@click.argument("entity", type=click.Choice(["teacher"]))
@click.argument("record_id")
@click.argument("field", type=click.Choice(["room"]))
@click.argument("value")
@click.option("--school", help="The school (optional when one is configured).")
def set_local(ctx: Context, entity, record_id, field, value, school):
    """Set a school-owned field that no sync overwrites."""
    store = ctx.reader()  # a record to set a field on must already be stored
    key = ctx.school_key(school, store)
    store.set_local(key, entity + "s", record_id, field, value)
    if ctx.quiet:
        return
    if ctx.json:
        return print_json({"school": key, "entity": entity + "s", "id": record_id, field: value})
    click.echo(f"{entity} {record_id}: {field} = {value!r}")
