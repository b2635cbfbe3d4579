"""`mis-sync serve`: the dashboard (core/web, docs/dashboard.md), served by uvicorn.

Binds to 127.0.0.1 unless told otherwise; another host needs `--public` and users in the
config's `[web.users]` table, because the pages hold pupils' personal data. With no user
configured (loopback only), a one-off password for `operator` is printed at start.
"""

from __future__ import annotations

import click

from . import Context, command

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=click.IntRange(0, 65535), default=8800, show_default=True)
@click.option("--public", is_flag=True, help="Allow a host other than loopback (needs users).")
@click.option(
    "--hash-password", is_flag=True, help="Print an argon2 hash for [web.users] and exit."
)
def serve(ctx: Context, host, port, public, hash_password):
    """Serve the dashboard and JSON API (extra `web`)."""
    from ..errors import ConfigError

    try:
        import uvicorn

        from ..web import create_app
        from ..web.auth import hash_password as make_hash
        from ..web.auth import one_off_user, users_from_config
    except ImportError as exc:
        raise ConfigError(
            f"the dashboard needs the `web` extra ({exc.name} is missing):"
            " pip install 'mis-sync[web]'"
        ) from None
    if hash_password:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        return click.echo(make_hash(password))
    config = ctx.config
    users = users_from_config(config)
    if host not in LOOPBACK:
        if not public:
            raise ConfigError(f"--host {host} is not loopback; pass --public to serve it there")
        if not users:
            raise ConfigError(
                f"--host {host}: configure [web.users] first (mis-sync serve --hash-password);"
                " a public dashboard never runs on a one-off password"
            )
    if not users:
        users, password = one_off_user()
        click.echo(f"No [web.users] configured: log in as operator with password {password}")
        click.echo("(valid until this server stops)")
    store = ctx.reader()  # the dashboard only reads (and sets local fields)
    app = create_app(store, config, users, secure_cookies=host not in LOOPBACK)
    click.echo(f"Dashboard on http://{host}:{port}/ (Ctrl-C stops it)")
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning")
