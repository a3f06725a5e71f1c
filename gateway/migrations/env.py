"""Alembic environment for the gateway, driven from code by ``gateway.core.db.upgrade``.

The database comes from, in order: a connection in ``config.attributes["connection"]``, a URL in
``config.attributes["url"]``, or the ``sqlalchemy.url`` main option. SQLite gets batch mode,
since it can alter a table only by rebuilding it.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

# Each domain owns its tables; importing its models adds them to Base.metadata.
from gateway.campaigns import models as campaign_models  # noqa: F401
from gateway.core.db import make_engine
from gateway.core.models import Base
from gateway.enumerators import models as enumerator_models  # noqa: F401
from gateway.messaging import models as messaging_models  # noqa: F401
from gateway.reports import models as report_models  # noqa: F401
from gateway.staff import models as staff_models  # noqa: F401
from gateway.surveys import models as survey_models  # noqa: F401

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_migrations_offline() -> None:
    """Write the SQL to standard output instead of running it (``alembic upgrade --sql``)."""
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=bool(url and url.startswith("sqlite")),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the given connection, or on a new one to the configured URL."""
    connection: Connection | None = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database to migrate: pass a connection or a URL")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
