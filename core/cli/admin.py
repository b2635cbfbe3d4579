"""Commands that look after the installation: `db upgrade`, `connectors`, `new-connector`."""

from __future__ import annotations

import click

from . import Context, command, main
from .output import print_json, table


@main.group()
def db() -> None:
    """Manage the database schema."""


@command(db)
def upgrade(ctx: Context) -> None:
    """Bring the database to the schema this mis-sync needs, keeping every row."""
    from ..store import migrate

    before, after = migrate.upgrade_database(ctx.config.database)
    if ctx.quiet:
        return
    if ctx.json:
        return print_json({"before": before, "after": after})
    click.echo(f"database schema: {before or 'empty'} -> {after}")


@command()
def connectors(ctx: Context):
    """List the installed connectors and plugins, with versions."""
    from ..plugins import installed_connectors, installed_plugins

    rows = [
        {"kind": "connector", "name": n, "version": v}
        for n, v in sorted(installed_connectors().items())
    ]
    rows += [
        {"kind": "plugin", "name": n, "version": v} for n, v in sorted(installed_plugins().items())
    ]
    if ctx.json:
        return print_json(rows)
    table("Installed", ["kind", "name", "version"], rows)


@command(name="new-connector")
@click.argument("name")
@click.option(
    "--dest",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="Folder to create mis-sync-NAME in.",
)
def new_connector(ctx: Context, name: str, dest: str) -> None:
    """Create a new connector package from the template, its tests wired to the kit."""
    import shlex
    from pathlib import Path

    from ..scaffold import new_connector as scaffold

    target = scaffold(name, Path(dest))
    quoted = shlex.quote(str(target))  # a hint is pasted into a shell: quote what it names
    steps = f"pip install -e {quoted} && pytest {shlex.quote(f'{target}/tests')}"
    steps += f" && mis-sync run {name} --demo"
    if ctx.quiet:
        return
    if ctx.json:
        return print_json({"created": str(target), "next": steps})
    click.echo(f"created {target}")
    click.echo(f"next: {steps}")
