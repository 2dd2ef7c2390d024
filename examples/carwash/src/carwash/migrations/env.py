"""Alembic's entry point: runs the revisions on the connection ``carwash.schema`` hands in."""

from __future__ import annotations

from alembic import context

from carwash.models import Base
from carwash.schema import VERSION_TABLE

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by copying tables
)
with context.begin_transaction():
    context.run_migrations()
