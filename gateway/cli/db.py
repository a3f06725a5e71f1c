"""``survey-gateway db``: the database schema, for operators (upgrade, current) and for
developers (revision), on the migrations in ``gateway/migrations`` and the database of
``DATABASE_URL`` (the same one every other command uses)."""

from __future__ import annotations

from pathlib import Path

import click
from alembic.util import CommandError as AlembicError

from gateway.cli.errors import CommandError
from gateway.core import db as schema
from gateway.core.settings import Settings


@click.group("db")
def db() -> None:
    """The database schema (Alembic migrations)."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply the migrations up to REVISION (default: head, the latest).

    Safe to run while the gateway runs and from several machines at once: one applies them,
    the others wait. Workers and `run` also do this when they start.
    """
    url = Settings.from_env().database_url
    try:
        schema.upgrade(url, revision)
    except AlembicError as exc:
        raise CommandError(str(exc)) from None
    click.echo(f"Database at {_describe(schema.current_revisions(url))}.")


@db.command("current")
@click.option("--check", is_flag=True, help="Exit with status 1 unless the database is at head.")
def db_current(check: bool) -> None:
    """Print the revision the database is at, and whether it is the latest (head)."""
    current = schema.current_revisions(Settings.from_env().database_url)
    click.echo(_describe(current))
    if check and set(current) != set(schema.head_revisions()):
        raise CommandError("the database is not at head: run `survey-gateway db upgrade`")


@db.command("revision")
@click.option("-m", "--message", required=True, help="What the migration does, in a phrase.")
@click.option(
    "--autogenerate",
    is_flag=True,
    help="Fill it with what the models add to DATABASE_URL's database (which must be at head).",
)
@click.option(
    "--versions-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write it into this folder instead of gateway/migrations/versions.",
)
def db_revision(message: str, autogenerate: bool, versions_dir: Path | None) -> None:
    """Write a new migration file after the latest one, for a developer to complete."""
    url = Settings.from_env().database_url if autogenerate else None
    if versions_dir is not None:
        versions_dir.mkdir(parents=True, exist_ok=True)
    try:
        path = schema.write_revision(message, url, versions_dir or schema.VERSIONS_DIR)
    except AlembicError as exc:
        raise CommandError(str(exc)) from None
    click.echo(f"Wrote {path}")


def _describe(revisions: tuple[str, ...]) -> str:
    if not revisions:
        return "no revision (an empty database: run `survey-gateway db upgrade`)"
    heads = set(schema.head_revisions())
    where = "head" if set(revisions) == heads else f"behind head {', '.join(sorted(heads))}"
    return f"{', '.join(sorted(revisions))} ({where})"
