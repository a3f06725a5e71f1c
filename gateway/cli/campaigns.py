"""``survey-gateway campaign``: staff invite a list of numbers to a survey from the terminal.

``create`` makes a draft campaign with its list (a file whose header cannot be read creates
nothing), then imports the list there and then, through the same import as the workers run
for the API and the dashboard (``gateway.campaigns.imports``), and prints the import report;
``start`` sends. Each change
is committed with its audit event (actor ``cli``) before the workers are asked to act on it.
Numbers are never printed: rows of the file are named by row number.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path

import click
from sqlalchemy.orm import Session

from gateway.campaigns.definition import (
    DEFAULT_THROTTLE,
    DEFAULT_TIMEZONE,
    DEFAULT_WINDOW,
    CampaignError,
    CampaignSpec,
    create_campaign,
    find_campaign,
    list_campaigns,
)
from gateway.campaigns.imports import (
    Format,
    invalid_rows,
    problem_text,
    queue_upload,
    run_import,
)
from gateway.campaigns.lifecycle import (
    cancel_campaign,
    pause_campaign,
    resume_campaign,
    start_campaign,
)
from gateway.campaigns.models import Campaign, CampaignImport, ImportStatus
from gateway.campaigns.progress import contact_counts, progress
from gateway.campaigns.queue import CampaignJobs
from gateway.cli.errors import BadSetup, CommandError, migrated_runtime
from gateway.cli.terminal import printable, text_table
from gateway.core.clock import utc_now
from gateway.core.runtime import Runtime
from gateway.results.export import iso_utc
from gateway.staff.audit import CLI_ACTOR

SHORT_ID = 8


@click.group("campaign")
def campaign() -> None:
    """Surveys sent to a list of numbers: create, start, pause, resume, cancel, follow.

    A campaign invites each number once, at its throttle, within its daily hours; the survey
    then runs by SMS (--channel sms) or households dial the USSD code (--channel ussd).
    """


@campaign.command("create")
@click.option("--name", required=True, help="What staff call it, e.g. 'Mopti sites, March'.")
@click.option("--flow", "flow_id", required=True, help="The survey, e.g. return_intention.")
@click.option("--channel", type=click.Choice(["sms", "ussd"]), required=True)
@click.option(
    "--audience",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="A CSV file with a phone column (language and region optional), or a JSON list.",
)
@click.option("--start", "start_at", help="Not before this time (ISO, e.g. 2025-03-10T08:00).")
@click.option("--window", default=DEFAULT_WINDOW, show_default=True, help="Daily sending hours.")
@click.option("--timezone", default=DEFAULT_TIMEZONE, show_default=True)
@click.option("--throttle", type=float, default=DEFAULT_THROTTLE, show_default=True)
@click.option("--reminders", type=int, help="Reminders per unanswered question [flow's].")
@click.option("--reminder-interval-hours", type=int, help="Hours between reminders [flow's].")
@click.option("--expiry-hours", type=int, help="Hours a run may be answered [flow's].")
@click.option("--retention-days", type=int, help="Days the list is kept after the campaign.")
def create_command(
    name: str,
    flow_id: str,
    channel: str,
    audience: Path,
    start_at: str | None,
    window: str,
    timezone: str,
    throttle: float,
    reminders: int | None,
    reminder_interval_hours: int | None,
    expiry_hours: int | None,
    retention_days: int | None,
) -> None:
    """Create a draft campaign with its audience, and report on the list.

    --start without a zone is a local time of --timezone. Nothing is sent until
    `survey-gateway campaign start ID`.
    """
    spec = CampaignSpec(
        name=name,
        flow=flow_id,
        channel=channel,
        start_at=_moment(start_at) if start_at else None,
        window=window,
        timezone=timezone,
        throttle=throttle,
        reminder_count=reminders,
        reminder_interval_hours=reminder_interval_hours,
        expiry_hours=expiry_hours,
        retention_days=retention_days,
    )
    with _runtime() as rt, _errors(), audience.open("rb") as stream:
        with rt.sessions.begin() as session:
            created = create_campaign(
                session, spec, rt.flows, ussd_flow=rt.settings.ussd_flow, actor=CLI_ACTOR
            )
            queued = queue_upload(
                session, rt.cipher, created, stream, actor=CLI_ACTOR, format=_format(audience)
            )
        short = created.id[:SHORT_ID]
        click.echo(f"Campaign {short} created (draft): {describe(created)}")
        _import(rt, queued.id)
    click.echo(f"Start it with: survey-gateway campaign start {short}")


@campaign.command("import")
@click.argument("ident", metavar="ID")
@click.argument("audience", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(ident: str, audience: Path) -> None:
    """Add the numbers of another file (numbers already in the campaign count as duplicates)."""
    with _runtime() as rt, _errors(), audience.open("rb") as stream:
        with rt.sessions.begin() as session:
            found = find_campaign(session, ident)
            queued = queue_upload(
                session, rt.cipher, found, stream, actor=CLI_ACTOR, format=_format(audience)
            )
        _import(rt, queued.id)


@campaign.command("start")
@click.argument("ident", metavar="ID")
def start_command(ident: str) -> None:
    """Start sending invitations (from --start on, within the daily hours)."""
    _change(ident, lambda s: start_campaign(s, ident, actor=CLI_ACTOR))


@campaign.command("pause")
@click.argument("ident", metavar="ID")
def pause_command(ident: str) -> None:
    """Stop sending invitations until resumed; surveys under way go on."""
    _change(ident, lambda s: pause_campaign(s, ident, actor=CLI_ACTOR))


@campaign.command("resume")
@click.argument("ident", metavar="ID")
def resume_command(ident: str) -> None:
    """Send the rest of a paused campaign's invitations."""
    _change(ident, lambda s: resume_campaign(s, ident, actor=CLI_ACTOR))


@campaign.command("cancel")
@click.argument("ident", metavar="ID")
def cancel_command(ident: str) -> None:
    """Send no more invitations or reminders, for good; answers given are kept."""
    _change(ident, lambda s: cancel_campaign(s, ident, actor=CLI_ACTOR))


@campaign.command("status")
@click.argument("ident", metavar="ID")
def status_command(ident: str) -> None:
    """How far the campaign got: invitations, deliveries, surveys started and completed."""
    with _runtime() as rt, _errors(), rt.sessions() as session:
        found = find_campaign(session, ident)
        counts = progress(session, found, utc_now())
    click.echo(f"Campaign {found.id[:SHORT_ID]} {found.status}: {describe(found)}")
    width = max(len(name) for name in counts.as_dict())
    for name, value in counts.as_dict().items():
        click.echo(f"  {name.replace('_', ' '):<{width}}  {value:>7}")


@campaign.command("list")
def list_command() -> None:
    """Every campaign, newest first."""
    with _runtime() as rt, rt.sessions() as session:
        rows = list_campaigns(session)
        counts = contact_counts(session)
    if not rows:
        click.echo("No campaigns yet: make one with `survey-gateway campaign create`.")
        return
    header = ("ID", "STATUS", "CHANNEL", "FLOW", "CONTACTS", "INVITED", "CREATED (UTC)", "NAME")
    table = [header]
    for row in rows:
        total, sent = counts.get(row.id, (0, 0))
        table.append(
            (
                row.id[:SHORT_ID],
                str(row.status),
                str(row.channel),
                row.flow,
                str(total),
                str(sent),
                iso_utc(row.created_at),
                printable(row.name),
            )
        )
    click.echo(text_table(table))


def describe(found: Campaign) -> str:
    """One line: name, survey, channel, hours and pace."""
    window = f"{found.window_start:%H:%M}-{found.window_end:%H:%M} {found.timezone}"
    start = f", from {iso_utc(found.start_at)}" if found.start_at else ""
    return (
        f'"{printable(found.name)}", {found.flow} by {found.channel}, {window}, '
        f"{found.throttle:g}/s{start}"
    )


def report_text(report: CampaignImport) -> str:
    """The import report for a person: counts, then each invalid row by number."""
    lines = [
        f"Audience: {report.accepted} accepted, {report.duplicates} duplicate(s) dropped, "
        f"{report.opted_out} opted out (left out), {report.invalid_count} invalid row(s)."
    ]
    invalid = invalid_rows(report, "en")
    lines += [f"  row {row}: {reason}" for row, reason in invalid]
    if report.invalid_count > len(invalid):
        lines.append(f"  ... and {report.invalid_count - len(invalid)} more invalid rows")
    return "\n".join(lines)


def _import(rt: Runtime, import_id: str) -> None:
    """Import the stored list now, as a worker would; print the report, or fail saying why."""
    ended = run_import(rt, import_id)
    if ended is None or ended.status is not ImportStatus.DONE:
        problem = problem_text(ended, "en") if ended is not None else None
        raise CommandError(f"The list was not imported: {problem or 'the import did not end'}")
    click.echo(report_text(ended))


def _change(ident: str, change: Callable[[Session], Campaign]) -> None:
    """Apply a state change in one transaction, then have the workers act on it."""
    with _runtime() as rt, _errors():
        with rt.sessions.begin() as session:
            before = find_campaign(session, ident).status
            changed = change(session)
        CampaignJobs(rt.queue).after_change(changed)
    what = "unchanged" if changed.status is before else f"{before} -> {changed.status}"
    click.echo(f"Campaign {changed.id[:SHORT_ID]} {changed.status} ({what}).")


def _format(path: Path) -> Format:
    """A ``.json`` file holds a JSON list; any other, CSV."""
    return "json" if path.suffix.lower() == ".json" else "csv"


def _moment(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadSetup(f"--start '{text[:40]}' is not a time like 2025-03-10T08:00") from None


def _runtime() -> AbstractContextManager[Runtime]:
    """The runtime, on a database that has the campaigns table."""
    return migrated_runtime(Campaign.__tablename__)


@contextmanager
def _errors() -> Iterator[None]:
    """A campaign that cannot be made or changed: one line saying why, exit status 1."""
    try:
        yield
    except CampaignError as exc:
        raise CommandError(str(exc)) from None
