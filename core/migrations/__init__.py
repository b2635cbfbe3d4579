"""Alembic migrations for the store, shipped in the package: `mis-sync db upgrade` runs them."""
