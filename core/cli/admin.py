"""Commands that look after the installation: `db upgrade`, `connectors`, `new-connector`."""

from __future__ import annotations

import click

from . import Context, handled, main, pass_ctx
from .output import print_json, table


@main.group()
def db() -> None:
    """Manage the database schema."""


@db.command()
@pass_ctx
@handled
def upgrade(ctx: Context) -> None:
    """Bring the database to the schema this mis-sync needs, keeping every row."""
    from sqlalchemy import create_engine

    from ..store import migrate

    engine = create_engine(ctx.config.database)
    before = migrate.current(engine)
    migrate.upgrade(engine)
    click.echo(f"database schema: {before or 'empty'} -> {migrate.HEAD}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@handled
def connectors(as_json):
    """List the installed connectors and plugins, with versions."""
    from ..plugins import installed_connectors, installed_plugins

    rows = [
        {"kind": "connector", "name": n, "version": v}
        for n, v in sorted(installed_connectors().items())
    ]
    rows += [
        {"kind": "plugin", "name": n, "version": v} for n, v in sorted(installed_plugins().items())
    ]
    if as_json:
        return print_json(rows)
    table("Installed", ["kind", "name", "version"], rows)


@main.command(name="new-connector")
@click.argument("name")
@click.option(
    "--dest",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="Folder to create mis-sync-NAME in.",
)
@handled
def new_connector(name: str, dest: str) -> None:
    """Create a new connector package from the template, its tests wired to the kit."""
    from pathlib import Path

    from ..scaffold import new_connector as scaffold

    target = scaffold(name, Path(dest))
    click.echo(f"created {target}")
    click.echo(
        f"next: pip install -e {target} && pytest {target}/tests && mis-sync run {name} --demo"
    )
