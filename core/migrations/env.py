"""Alembic's entry: mis-sync passes the connection in, so no alembic.ini is needed."""

from alembic import context

from mis_sync.core.store.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
