"""Backups of the gateway's database, and bringing one back.

PostgreSQL: ``pg_dump``'s custom format (compressed, one consistent snapshot taken while the
gateway runs, restored by ``pg_restore``). SQLite: SQLite's online backup, a database file of
its own. A backup is written under a temporary name and renamed when complete, readable by
its owner alone: a half-written backup never passes for a whole one.

When ``DATABASE_URL`` sets a ``search_path`` (a gateway sharing its database with others, in
a schema of its own), the backup holds that schema only; otherwise the whole database.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

from sqlalchemy.engine import URL, make_url

from gateway.core.errors import ConfigError

# The first bytes of each kind of backup: how a file is recognised before restoring it.
_PG_DUMP_MAGIC = b"PGDMP"
_SQLITE_MAGIC = b"SQLite format 3\x00"


class BackupError(RuntimeError):
    """A backup or a restore that could not be done; the message says why, for operators."""


@dataclass(frozen=True, slots=True)
class _Postgres:
    """How pg_dump and pg_restore reach the database: a URL without the password, which
    goes in the environment (not on a command line, where ``ps`` shows it to everyone)."""

    url: str
    password: str | None
    schema: str | None

    @classmethod
    def of(cls, url: URL) -> _Postgres:
        options = url.query.get("options", "")
        options = options if isinstance(options, str) else " ".join(options)
        found = re.search(r"-c\s*search_path=([^\s,]+)", unquote(options))
        plain = url.set(drivername="postgresql", password=None)
        plain = plain.difference_update_query(["options"])
        schema = found.group(1).strip('"') if found else None
        return cls(plain.render_as_string(hide_password=False), url.password, schema)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.password is not None:
            env["PGPASSWORD"] = self.password
        return env


def backup(database_url: str, target: Path, *, now: datetime | None = None) -> Path:
    """Back the database up to ``target`` (a file, or a folder to name one in); its path."""
    url = make_url(database_url)
    sqlite = url.get_backend_name() == "sqlite"
    if target.is_dir():
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        target = target / f"gateway-{stamp}.{'sqlite3' if sqlite else 'dump'}"
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    # Created readable by its owner alone: a backup holds every answer and encrypted number.
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    try:
        if sqlite:
            _sqlite_copy(_sqlite_path(url), partial)
        else:
            postgres = _Postgres.of(url)
            schema = ["--schema", postgres.schema] if postgres.schema else []
            _run(
                "pg_dump",
                ["--format=custom", "--no-owner", *schema, "--file", str(partial)],
                postgres,
            )
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def restore(database_url: str, source: Path) -> None:
    """Replace the database's tables with those of the backup ``source``, all or nothing."""
    url = make_url(database_url)
    try:
        with source.open("rb") as file:
            head = file.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise BackupError(f"cannot read {source}: {exc.strerror}") from None
    if url.get_backend_name() == "sqlite":
        if not head.startswith(_SQLITE_MAGIC):
            raise BackupError(f"{source} is not a SQLite backup, and DATABASE_URL is SQLite")
        _sqlite_copy(source, _sqlite_path(url))
        return
    if not head.startswith(_PG_DUMP_MAGIC):
        raise BackupError(
            f"{source} is not a pg_dump archive (custom format), and DATABASE_URL is PostgreSQL"
        )
    postgres = _Postgres.of(url)
    _run(
        "pg_restore",
        [
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            str(source),
        ],
        postgres,
    )


def _sqlite_path(url: URL) -> Path:
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        raise ConfigError("DATABASE_URL is an in-memory SQLite database: nothing to back up")
    return Path(database)


def _sqlite_copy(source: Path, target: Path) -> None:
    """Copy a SQLite database page by page, consistently, while others may write to it."""
    if not source.exists():
        raise BackupError(f"{source} does not exist")
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def _run(program: str, arguments: list[str], postgres: _Postgres) -> None:
    executable = shutil.which(program)
    if executable is None:
        raise BackupError(
            f"{program} is not installed: install PostgreSQL's client programs, of the "
            "server's major version or newer (Debian: apt install postgresql-client)"
        )
    done = subprocess.run(
        [executable, *arguments, "--dbname", postgres.url],
        env=postgres.env(),
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise BackupError(f"{program} failed: {done.stderr.strip()[-800:]}")
