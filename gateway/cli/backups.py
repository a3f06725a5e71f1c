"""``survey-gateway backup`` and ``restore``: the database of ``DATABASE_URL``, to a file and
back (``gateway.core.backups``). Redis's live state has its own append-only file, and the
secrets are kept apart from the backups: see deploy/postgresql.md."""

from __future__ import annotations

from pathlib import Path

import click

from gateway.cli.errors import CommandError
from gateway.core import backups
from gateway.core.settings import Settings


@click.command("backup")
@click.argument("target", type=click.Path(path_type=Path), default=".")
def backup(target: Path) -> None:
    """Back the database up to TARGET: a file, or a folder (default: here) in which it is
    named gateway-<UTC time>.dump (PostgreSQL, pg_dump's custom format) or .sqlite3.

    Safe while the gateway runs: the backup is one consistent snapshot.
    """
    settings = Settings.from_env()
    try:
        written = backups.backup(settings.database_url, target)
    except backups.BackupError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"cannot write the backup in {target}: {exc.strerror}") from None
    click.echo(f"Backed up to {written} ({written.stat().st_size} bytes).")


@click.command("restore")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask before replacing the database.")
def restore(source: Path, yes: bool) -> None:
    """Replace every table of the database with those of the backup SOURCE.

    Stop the web servers and the workers first; afterwards, `survey-gateway db upgrade` brings
    a backup of an older release up to date.
    """
    settings = Settings.from_env()
    if not yes:
        click.confirm(
            "This replaces everything in the database with the backup's content. Go on?",
            abort=True,
        )
    try:
        backups.restore(settings.database_url, source)
    except backups.BackupError as exc:
        raise CommandError(str(exc)) from None
    click.echo(f"Restored from {source}.")
