"""The ``survey-gateway`` command: run everything on a laptop, or one part of it in production.

``survey-gateway run`` is what ``make run`` calls: an embedded Redis (unless ``REDIS_URL`` is
set), the migrations, then two child processes, ``serve`` (gunicorn) and ``worker`` (RQ). The
other commands are for people at a terminal: a USSD phone simulator, the CSV export, the outbox,
a flow checker and a key generator. Every command reads its settings with
``Settings.from_env()``, so they all use the same ``var/`` folder and see the same data.

This module holds the command group, ``flows check``, and the commands on stored numbers'
keys and retention (``keys``, ``purge``). ``run`` lives in ``gateway.processes.supervisor``,
``serve`` and ``worker`` in ``gateway.processes.servers``; every other group has a module of
its own in this package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from cryptography.fernet import Fernet

from flows import FlowError, check_flows, load_flows
from flows.loader import keyword_clashes
from flows.sms_check import sms_overruns, sms_warnings
from flows.versions import check_flow_versions
from gateway.cli import data as data_commands
from gateway.cli.backups import backup, restore
from gateway.cli.campaigns import campaign
from gateway.cli.db import db
from gateway.cli.enumerators import enumerators
from gateway.cli.errors import BadSetup, CommandError, CommandGroup
from gateway.cli.flow_files import flows_export, flows_import, flows_publish
from gateway.cli.outbox import outbox
from gateway.cli.simulate import simulate
from gateway.cli.staff import tokens, users
from gateway.cli.terminal import plural
from gateway.core.errors import ConfigError
from gateway.core.settings import Settings
from gateway.core.version import gateway_version
from gateway.processes.servers import serve, worker
from gateway.processes.supervisor import run
from gateway.staff.audit import CLI_ACTOR

__all__ = ["BadSetup", "CommandError", "cli", "main"]


class _Group(CommandGroup):
    """A command group that also turns configuration errors into a message and exit status 2."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand; a bad setting or flow file is reported without a traceback."""
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise BadSetup(str(exc)) from None
        except FlowError as exc:
            raise BadSetup(
                f"a flow file is invalid: {exc} (see: survey-gateway flows check)"
            ) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(gateway_version(), "-V", "--version", prog_name="survey-gateway")
def cli() -> None:
    """SMS/USSD survey gateway on Africa's Talking.

    Start everything on this machine with `survey-gateway run`, then try it from another
    terminal with `survey-gateway simulate ussd`.
    """


def main() -> None:
    """Entry point of the ``survey-gateway`` console script."""
    cli(prog_name="survey-gateway")


cli.add_command(run)
cli.add_command(serve)
cli.add_command(worker)
cli.add_command(simulate)
cli.add_command(enumerators)
cli.add_command(users)
cli.add_command(tokens)
cli.add_command(campaign)
cli.add_command(data_commands.export)
cli.add_command(data_commands.report)
cli.add_command(outbox)
cli.add_command(db)
cli.add_command(backup)
cli.add_command(restore)


# -- flows check ----------------------------------------------------------------------------


@cli.group()
def flows() -> None:
    """Survey flow files."""


flows.add_command(flows_import)
flows.add_command(flows_publish)
flows.add_command(flows_export)


@flows.command("check")
@click.option(
    "--dir",
    "directory",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Check this folder (with the shipped flows) instead of GATEWAY_FLOWS_DIR.",
)
def flows_check(directory: Path | None) -> None:
    """Validate the shipped flows and GATEWAY_FLOWS_DIR (or --dir), the versions kept there
    for runs under way included; exit 1 on any problem.

    Every SMS that can be composed from a flow (each question, after each kind of error, the
    offer after a USSD drop, the reminder, the confirmation, in each language) must fit one
    GSM-7 SMS: each one over is a problem, named with its length.
    """
    settings = Settings.from_env()
    extra = directory if directory is not None else settings.flows_folder
    if settings.flows_dir is not None and not extra.is_dir():
        # The loader would silently find no files there: a typo must not pass as "OK".
        raise BadSetup(f"GATEWAY_FLOWS_DIR is {extra}, which is not a folder")
    problems = [str(problem) for problem in check_flows(extra)]
    # The versions kept for runs under way are read when such a run answers: checked too.
    kept_problems, kept = check_flow_versions(extra)
    problems += [str(problem) for problem in kept_problems]
    if not problems:
        loaded = load_flows(extra)
        if settings.ussd_flow not in loaded:
            problems.append(
                f"GATEWAY_USSD_FLOW names '{settings.ussd_flow}', which none of these files defines"
            )
        # Every SMS the gateway can compose must fit one segment: a longer one is billed twice
        # and arrives in pieces (or not at all) on basic phones.
        problems += [line for flow in loaded.values() for line in sms_overruns(flow)]
    if problems:
        for problem in problems:
            click.echo(problem)
        raise CommandError(f"{plural(len(problems), 'problem')} in the flow files")
    for line in keyword_clashes(loaded.values()):
        click.echo(f"warning: {line}")
    # Warnings, not problems: such a text is sent transliterated into GSM-7.
    for flow in loaded.values():
        for warning in sms_warnings(flow):
            click.echo(f"warning: {warning}")
    versions = f"; {plural(kept, 'kept version')} OK" if kept else ""
    click.echo(f"{plural(len(loaded), 'flow')} OK: {', '.join(sorted(loaded))}{versions}")


# -- keys -----------------------------------------------------------------------------------


@cli.group()
def keys() -> None:
    """Encryption keys."""


@keys.command("new")
def keys_new() -> None:
    """Print a new Fernet key, for GATEWAY_ENCRYPTION_KEYS.

    To rotate keys, put the new key first and keep the old ones after it, comma-separated.
    """
    click.echo(Fernet.generate_key().decode("ascii"))


@keys.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every stored number under the first key of GATEWAY_ENCRYPTION_KEYS.

    Then the old keys can be removed from GATEWAY_ENCRYPTION_KEYS. Pseudonyms do not change.
    """
    from gateway.core.runtime import Runtime
    from gateway.surveys.services import rotate_stored_keys

    report = rotate_stored_keys(Runtime.build(Settings.from_env()), CLI_ACTOR)
    click.echo(
        f"Re-encrypted under the current key: {report.messages} outbox numbers, "
        f"{report.campaign_contacts} campaign numbers, {report.enumerators} enumerator numbers, "
        f"{report.live} numbers in live state (surveys under way, replies waiting), "
        f"{report.uploads} pieces of uploaded lists waiting for import."
    )


@cli.command()
@click.option("--days", type=click.IntRange(1, 3650), help="Retention (default: the setting).")
def purge(days: int | None) -> None:
    """Delete stored numbers and message bodies past their retention period (answers stay)."""
    from gateway.core.runtime import Runtime
    from gateway.surveys.services import purge_expired

    report = purge_expired(Runtime.build(Settings.from_env()), CLI_ACTOR, days=days)
    click.echo("Purged: " + "; ".join(report.lines()) + ".")


if __name__ == "__main__":
    main()
