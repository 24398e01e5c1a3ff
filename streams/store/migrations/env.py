"""Alembic's environment for the store: `streams.store.db.migrate` passes the connection in
`config.attributes["connection"]`; migrations run inside its transaction."""

from __future__ import annotations

from alembic import context

from streams.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
