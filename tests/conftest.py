"""Shared fixtures: a real, migrated database per test, on SQLite and (when set) PostgreSQL.

``database_url`` is parametrised: every test that uses it runs once on SQLite (a file in the
test's tmp_path) and once on PostgreSQL when ``TEST_DATABASE_URL`` is set. Each PostgreSQL
test gets a schema of its own, dropped afterwards, so tests never see each other's rows and
several test runs can share one server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from gateway.db import make_engine, make_sessionmaker, normalise_database_url, upgrade
from gateway.settings import Settings

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")


def _postgresql_schema_url(base_url: str, schema: str) -> str:
    """The base URL with every connection's search_path set to ``schema``."""
    url = make_url(normalise_database_url(base_url))
    url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgresql",
            marks=pytest.mark.skipif(
                not TEST_DATABASE_URL,
                reason="PostgreSQL tests need TEST_DATABASE_URL, e.g. "
                "postgresql://postgres@127.0.0.1:5432/test",
            ),
        ),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database (not migrated) of each kind under test, as a URL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'var' / 'gateway.db'}"
        return
    schema = f"test_{uuid.uuid4().hex[:16]}"
    admin = make_engine(TEST_DATABASE_URL, poolclass=NullPool)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield _postgresql_schema_url(TEST_DATABASE_URL, schema)
    finally:
        with admin.begin() as connection:
            # A connection the test left in a transaction would block the drop forever.
            connection.execute(text("SET LOCAL lock_timeout = '10s'"))
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def db_engine(database_url: str) -> Iterator[Engine]:
    """An engine on a database migrated to head."""
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def db_session(db_engine: Engine) -> Iterator[Session]:
    """A session on the migrated database; whatever the test left uncommitted is rolled back."""
    with make_sessionmaker(db_engine)() as session:
        yield session


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Development settings with their own var folder and the database under test."""
    return Settings.from_env(
        {"GATEWAY_VAR_DIR": str(tmp_path / "var"), "DATABASE_URL": database_url}
    )
