"""Database engines, sessions and migrations.

SQLite (``var/gateway.db``) by default, PostgreSQL in production. The schema is owned by the
Alembic migrations in ``gateway/migrations``; :func:`upgrade` applies them from code, and
:func:`current_revisions` and :func:`write_revision` serve ``survey-gateway db``, so no
``alembic.ini`` is needed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"
VERSIONS_DIR = MIGRATIONS_DIR / "versions"

# Long enough to ride out another process's write transaction; short enough to surface a wedge.
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Any constant will do, as long as every process of the gateway uses the same one.
_PG_MIGRATION_LOCK = 0x5356_4741_5445  # "SVGATE"


def normalise_database_url(url: str) -> str:
    """Return the URL with ``postgres://`` and ``postgresql://`` pointed at the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
        return parsed.render_as_string(hide_password=False)
    return url


def _sqlite_file(url: str) -> Path | None:
    """The file behind a SQLite URL, or None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # WAL lets the web, worker and CLI processes read while one of them writes.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # SQLite ignores foreign keys (and so ON DELETE CASCADE) unless asked, per connection.
        cursor.execute("PRAGMA foreign_keys=ON")
        # Durable at each checkpoint; in WAL mode this cannot corrupt the database.
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


# How long a PostgreSQL connection attempt may take (unless the URL says otherwise).
CONNECT_TIMEOUT_S = 3


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for the URL; for a SQLite file, create its folder and enable WAL."""
    url = normalise_database_url(url)
    path = _sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Created readable by its owner alone: it holds the answers and encrypted numbers.
        # SQLite gives its -wal and -shm files the same mode.
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT, 0o600))
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _on_sqlite_connect)
        return engine
    # Worker processes hold connections for hours; a server restart must not break them.
    kwargs.setdefault("pool_pre_ping", True)
    if "connect_timeout" not in make_url(url).query:
        # A server that does not answer (a host gone, a firewall dropping packets) must fail
        # a request, or /healthz, in seconds: without this a connection attempt waits on TCP.
        kwargs.setdefault("connect_args", {"connect_timeout": CONNECT_TIMEOUT_S})
    return create_engine(url, **kwargs)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Return a session factory bound to the engine; objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config(url: str | None = None, extra_versions: Path | None = None) -> Config:
    """Build the Alembic configuration in code (no ``alembic.ini``), for the given database;
    with ``extra_versions``, a folder of revisions read after the shipped ones."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    folders = [VERSIONS_DIR] + ([extra_versions] if extra_versions is not None else [])
    config.set_main_option("version_locations", os.pathsep.join(str(f) for f in folders))
    if url is not None:
        # Kept out of the ini options: ConfigParser would read a "%" in a password as syntax.
        config.attributes["url"] = normalise_database_url(url)
    return config


@contextlib.contextmanager
def _sqlite_migration_lock(url: str) -> Iterator[None]:
    """Serialise migrations of one SQLite file across processes that start together."""
    path = _sqlite_file(url)
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".migrate.lock")
    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade(url: str | Engine, revision: str = "head") -> None:
    """Apply the migrations up to ``revision`` (head by default); safe to call at every start."""
    engine = make_engine(url) if isinstance(url, str) else url
    url_text = engine.url.render_as_string(hide_password=False)
    try:
        with _sqlite_migration_lock(url_text), engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Two processes starting together would both try to create the tables.
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK}
                )
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        if isinstance(url, str):
            engine.dispose()


def head_revisions() -> tuple[str, ...]:
    """The revisions the shipped migrations end at (one, unless two branches were not merged)."""
    return tuple(ScriptDirectory.from_config(alembic_config()).get_heads())


def current_revisions(url: str) -> tuple[str, ...]:
    """The revisions the database is at; empty for a database never migrated."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return tuple(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()


def write_revision(message: str, url: str | None = None, versions_dir: Path = VERSIONS_DIR) -> Path:
    """Write a new migration after the current head into ``versions_dir`` and return its file.

    Its id is the next number (``0009`` after ``0008``), as the shipped ones are. With ``url``
    (a database at head), its body is what the models add to that database (Alembic's
    autogenerate: read it, it is a draft); without, it is empty.
    """
    extra = None if versions_dir.resolve() == VERSIONS_DIR.resolve() else versions_dir
    config = alembic_config(url, extra_versions=extra)
    numbers = [
        int(script.revision)
        for script in ScriptDirectory.from_config(config).walk_revisions()
        if script.revision.isdigit()
    ]
    script = command.revision(
        config,
        message=message,
        autogenerate=url is not None,
        rev_id=f"{max(numbers, default=0) + 1:04d}",
        version_path=str(versions_dir),
    )
    if script is None or isinstance(script, list):
        raise RuntimeError("Alembic wrote no single revision")
    return Path(script.path)


def ping(engine: Engine) -> None:
    """Check that the database answers; raises the driver's error if it does not."""
    with engine.connect() as connection:
        if connection.execute(text("SELECT 1")).scalar_one() != 1:
            raise RuntimeError("the database answered SELECT 1 with something else")
