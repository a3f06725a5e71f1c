"""``survey-gateway campaign``: staff invite a list of numbers to a survey from the terminal.

``create`` makes a draft campaign with its list (a file whose header cannot be read creates
nothing), then imports the list there and then, through the same import as the workers run
for the API and the dashboard (``gateway.campaigns.imports``), and prints the import report;
``start`` sends. Each change is one call to ``gateway.campaigns.services``, as from the API and
the dashboard: committed with its audit event (actor ``cli``), then the workers act on it.
Numbers are never printed: rows of the file are named by row number.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path

import click

from gateway.campaigns.definition import (
    DEFAULT_THROTTLE,
    DEFAULT_TIMEZONE,
    DEFAULT_WINDOW,
    CampaignSpec,
)
from gateway.campaigns.imports import Format, invalid_rows, problem_text
from gateway.campaigns.models import Campaign, CampaignImport, ImportStatus
from gateway.campaigns.progress import find_with_progress, listing, shown_status
from gateway.campaigns.services import (
    Action,
    Audience,
    add_contacts,
    change_state,
    create_with_audience,
)
from gateway.campaigns.waves import DEFAULT_REPEAT_DAYS, end_of_day
from gateway.cli.errors import BadSetup, CommandError, CommandGroup, migrated_runtime
from gateway.cli.terminal import printable, text_table
from gateway.core.clock import utc_now
from gateway.core.runtime import Runtime
from gateway.results.export import iso_utc
from gateway.staff.audit import CLI_ACTOR

SHORT_ID = 8
# What the counts that are not self-explanatory mean, printed next to them.
COUNT_NOTES = {
    "skipped": "not invited: had already completed this survey before their turn",
    "opted_out": "sent STOP: not invited, or no more messages since",
    "failed": "the invitation did not reach the phone",
    "expired": "did not finish before the survey's time was up",
    "answering": "invited and may still answer: reminders may still go",
}


@click.group("campaign", cls=CommandGroup)
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
    help="A CSV or Excel (.xlsx) file with a phone column (language and region optional), "
    "or a JSON list.",
)
@click.option("--start", "start_at", help="Not before this time (ISO, e.g. 2025-03-10T08:00).")
@click.option("--window", default=DEFAULT_WINDOW, show_default=True, help="Daily sending hours.")
@click.option("--timezone", default=DEFAULT_TIMEZONE, show_default=True)
@click.option("--throttle", type=float, default=DEFAULT_THROTTLE, show_default=True)
@click.option("--reminders", type=int, help="Reminders per unanswered question [flow's].")
@click.option("--reminder-interval-hours", type=int, help="Hours between reminders [flow's].")
@click.option("--expiry-hours", type=int, help="Hours a run may be answered [flow's].")
@click.option("--retention-days", type=int, help="Days the list is kept after the campaign.")
@click.option(
    "--repeat-waves",
    type=int,
    help="Invite the same list again, this many waves in all (the first included).",
)
@click.option(
    "--repeat-until",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Repeat until this day (the last wave opens no later), e.g. 2026-12-31.",
)
@click.option(
    "--repeat-days",
    type=int,
    help=f"Days between waves, with --repeat-waves or --repeat-until [{DEFAULT_REPEAT_DAYS}].",
)
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
    repeat_waves: int | None,
    repeat_until: datetime | None,
    repeat_days: int | None,
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
        repeat_days=repeat_days,
        repeat_waves=repeat_waves,
        repeat_until=end_of_day(repeat_until.date()) if repeat_until else None,
    )
    with _runtime() as rt, _audience(audience) as given:
        created = create_with_audience(rt, CLI_ACTOR, spec, given, import_now=True)
    short = created.campaign.id[:SHORT_ID]
    click.echo(f"Campaign {short} created (draft): {describe(created.campaign)}")
    _report(created.import_)
    click.echo(f"Start it with: survey-gateway campaign start {short}")


@campaign.command("import")
@click.argument("ident", metavar="ID")
@click.argument("audience", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(ident: str, audience: Path) -> None:
    """Add the numbers of another file (numbers already in the campaign count as duplicates)."""
    with _runtime() as rt, _audience(audience) as given:
        added = add_contacts(rt, CLI_ACTOR, ident, given, import_now=True)
    _report(added.import_)


def _change_command(action: Action, docstring: str) -> None:
    """Add ``campaign <action> ID``: the state change, then what it did."""

    def command(ident: str) -> None:
        _change(ident, action)

    command.__doc__ = docstring
    campaign.command(action)(click.argument("ident", metavar="ID")(command))


_change_command("start", "Start sending invitations (from --start on, within the daily hours).")
_change_command("pause", "Stop sending invitations until resumed; surveys under way go on.")
_change_command("resume", "Send the rest of a paused campaign's invitations.")
_change_command(
    "cancel", "Send no more invitations or reminders, for good; answers given are kept."
)


@campaign.command("status")
@click.argument("ident", metavar="ID")
def status_command(ident: str) -> None:
    """How far the campaign got: invitations, deliveries, surveys started and completed."""
    with _runtime() as rt, rt.sessions() as session:
        found, counts = find_with_progress(session, ident)
    status = shown_status(found, counts.answering).replace("_", " ")
    click.echo(f"Campaign {found.id[:SHORT_ID]} {status}: {describe(found)}")
    width = max(len(name) for name in counts.as_dict())
    for name, value in counts.as_dict().items():
        meaning = f"  ({COUNT_NOTES[name]})" if name in COUNT_NOTES and value else ""
        click.echo(f"  {name.replace('_', ' '):<{width}}  {value:>7}{meaning}")
    if status == "sending done":
        click.echo("All invitations are out; the campaign ends when no one may still answer.")
    click.echo(
        "Numbers not in the campaign at all (duplicates, invalid rows, numbers that had sent "
        "STOP before the import) are in the report of each import."
    )


@campaign.command("list")
def list_command() -> None:
    """Every campaign, newest first."""
    now = utc_now()
    with _runtime() as rt, rt.sessions() as session:
        rows = listing(session, now)
    if not rows:
        click.echo("No campaigns yet: make one with `survey-gateway campaign create`.")
        return
    header = ("ID", "STATUS", "CHANNEL", "FLOW", "CONTACTS", "INVITED", "CREATED (UTC)", "NAME")
    table = [header]
    for row in rows:
        found = row.campaign
        table.append(
            (
                found.id[:SHORT_ID],
                row.shown.replace("_", " "),
                str(found.channel),
                found.flow,
                str(row.contacts),
                str(row.invited),
                iso_utc(found.created_at),
                printable(found.name),
            )
        )
    click.echo(text_table(table))


def describe(found: Campaign) -> str:
    """One line: name, survey, channel, hours and pace."""
    window = f"{found.window_start:%H:%M}-{found.window_end:%H:%M} {found.timezone}"
    start = f", from {iso_utc(found.start_at)}" if found.start_at else ""
    return (
        f'"{printable(found.name)}", {found.flow} by {found.channel}, {window}, '
        f"{found.throttle:g}/s{start}{_repeat(found)}"
    )


def _repeat(found: Campaign) -> str:
    """How a repeating campaign repeats, and where its waves stand; nothing for a one-shot."""
    if found.repeat_days is None:
        return ""
    ends = [f"{found.repeat_waves} waves"] if found.repeat_waves else []
    if found.repeat_until is not None:
        ends.append(f"until {found.repeat_until:%Y-%m-%d}")
    following = f", next {iso_utc(found.next_wave_at)}" if found.next_wave_at else ""
    return f"; every {found.repeat_days} days, {' or '.join(ends)}: wave {found.wave}{following}"


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


def _report(ended: CampaignImport) -> None:
    """Print the report of the list imported, or fail saying why it was not."""
    if ended.status is not ImportStatus.DONE:
        problem = problem_text(ended, "en")
        raise CommandError(f"The list was not imported: {problem or 'the import did not end'}")
    click.echo(report_text(ended))


def _change(ident: str, action: Action) -> None:
    """Apply a state change, then say what it did."""
    with _runtime() as rt:
        done = change_state(rt, CLI_ACTOR, ident, action)
    changed = done.campaign
    what = f"{done.before} -> {changed.status}" if done.changed else "unchanged"
    click.echo(f"Campaign {changed.id[:SHORT_ID]} {changed.status} ({what}).")


@contextmanager
def _audience(path: Path) -> Iterator[Audience]:
    """The list in the file, open for reading: a ``.json`` file holds a JSON list, a ``.xlsx``
    file is an Excel workbook; any other, CSV."""
    formats: dict[str, Format] = {".json": "json", ".xlsx": "xlsx"}
    with path.open("rb") as stream:
        yield Audience(stream, formats.get(path.suffix.lower(), "csv"))


def _moment(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadSetup(f"--start '{text[:40]}' is not a time like 2025-03-10T08:00") from None


def _runtime() -> AbstractContextManager[Runtime]:
    """The runtime, on a database that has the campaigns table."""
    return migrated_runtime(Campaign.__tablename__)
