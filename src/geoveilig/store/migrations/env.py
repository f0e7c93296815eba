"""Alembic environment: run with a connection handed over by ``geoveilig.store``."""

from alembic import context

from geoveilig.store.models import metadata

config = context.config
connection = config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
