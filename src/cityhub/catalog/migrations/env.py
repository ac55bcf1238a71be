"""Alembic environment: migrations run on the connection handed in by cityhub.catalog.db."""

from alembic import context
from sqlalchemy import create_engine

import cityhub.access.models  # noqa: F401  (its tables belong to the same schema)
from cityhub.catalog.models import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
        with engine.begin() as conn:
            context.configure(
                connection=conn, target_metadata=target_metadata, render_as_batch=True
            )
            context.run_migrations()
        return
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    context.run_migrations()


run()
