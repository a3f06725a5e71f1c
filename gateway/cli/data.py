"""``survey-gateway export`` and ``report``: reading what the gateway collected.

For people at a terminal: a survey's submissions as CSV, XLSX or HXL, and its headline report
as text tables (``outbox``, the latest SMS, is in ``gateway.cli.outbox``). These commands only
read (an export writes its audit row, nothing else), and refuse a database that was never set
up rather than migrate it (that is for the processes that write). Respondents appear by
pseudonym only; no phone number is ever printed.
"""

from __future__ import annotations

import dataclasses
import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TextIO, cast

import click
from sqlalchemy import Engine, inspect
from sqlalchemy.orm import Session

from flows import load_flows
from flows.model import Flow
from gateway.cli.errors import BadSetup
from gateway.cli.terminal import plural, printable_lines
from gateway.core.errors import DomainError
from gateway.core.settings import Settings
from gateway.processes.supervisor import hide_password
from gateway.results.selection import STATUSES, SubmissionFilter, parse_filter
from gateway.staff.audit import CLI_ACTOR, audit

if TYPE_CHECKING:
    from gateway.reports.aggregates import ReportFilter


@click.command()
@click.option("--flow", "flow_id", required=True, help="The survey, e.g. return_intention.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "xlsx", "hxl"]),
    default="csv",
    show_default=True,
    help="Output format: CSV, an Excel workbook, or CSV with an HXL hashtag row.",
)
@click.option("--since", metavar="DATE", help="Only submissions started on or after this day.")
@click.option("--until", metavar="DATE", help="Only submissions started on or before this day.")
@click.option("--campaign", "campaign_id", metavar="ID", help="Only this campaign's submissions.")
@click.option(
    "--status",
    type=click.Choice(STATUSES),
    help="Only submissions in this status (expired: started, and past the time to answer).",
)
@click.option(
    "--labels",
    metavar="LANG",
    help="Write each answer's label in this language of the survey (e.g. fr) instead of its "
    "code; P-code columns stay codes.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write to this file instead of standard output (xlsx: needed unless piped).",
)
@click.option("--region", help="Reports only: those about this region (code, e.g. gao).")
@click.option("--enumerator", metavar="CODE", help="Reports only: those by this enumerator.")
def export(
    flow_id: str,
    fmt: str,
    since: str | None,
    until: str | None,
    campaign_id: str | None,
    status: str | None,
    labels: str | None,
    output: Path | None,
    region: str | None,
    enumerator: str | None,
) -> None:
    """Export a survey's submissions: one row per submission, one column per question.

    Respondents appear by pseudonym only; phone numbers are never exported. Days are UTC
    (2025-03-31); --until includes that whole day. Each export is written to the audit log
    (actor cli), as the API's and the dashboard's are.
    """
    from gateway.core.db import make_sessionmaker
    from gateway.results.export import ExportFormat
    from gateway.results.services import start_export

    settings = Settings.from_env()
    flow = _known_flow(settings, flow_id)
    if flow.is_report:
        return _export_reports(settings, flow, fmt, since, until, region, enumerator, output)
    if fmt == "xlsx" and output is None and sys.stdout.isatty():
        # A workbook is binary: on a terminal it is garbage, and may upset the terminal.
        raise BadSetup("xlsx is a binary file: give --output FILE (or redirect to a file)")
    with gateway_database(settings) as engine:
        try:
            done = start_export(
                make_sessionmaker(engine),
                CLI_ACTOR,
                flow,
                cast(ExportFormat, fmt),  # one of click.Choice's
                since=since,
                until=until,
                campaign=campaign_id,
                status=status,
                labels=labels,
            )
        except DomainError as exc:
            raise BadSetup(str(exc)) from None
        if output is None:
            with _stdout_for(fmt) as out:
                count = done.write(out)
            click.echo(f"{plural(count, 'submission')} exported.", err=True)
        else:
            with _open_for(fmt, output) as out:
                count = done.write(out)
            click.echo(f"{plural(count, 'submission')} written to {output}.", err=True)


@click.command()
@click.option("--flow", "flow_id", required=True, help="The survey, e.g. return_intention.")
@click.option("--campaign", "campaign_id", metavar="ID", help="Only this campaign's submissions.")
@click.option("--since", metavar="DATE", help="Only submissions started on or after this day.")
@click.option("--until", metavar="DATE", help="Only submissions started on or before this day.")
@click.option(
    "--k",
    "k",
    type=click.IntRange(min=5),
    default=5,
    show_default=True,
    help="Hide every count of fewer than K households (5 or more).",
)
@click.option(
    "--language",
    type=click.Choice(["fr", "en"]),
    default="fr",
    show_default=True,
    help="Language of the labels.",
)
@click.option("--region", help="Reports only: those about this region (code, e.g. gao).")
@click.option("--enumerator", metavar="CODE", help="Reports only: those by this enumerator.")
def report(
    flow_id: str,
    campaign_id: str | None,
    since: str | None,
    until: str | None,
    k: int,
    language: str,
    region: str | None,
    enumerator: str | None,
) -> None:
    """Print the headline report of completed submissions: intentions, needs, regions.

    Counts of fewer than K households are shown as <5 and never as numbers; a count hidden
    only so that a small one cannot be worked out from the total is shown as x. For an
    enumerators' report flow (flow_monitoring, location_assessment), the figures of its
    reports, which are about places: nothing is hidden.
    """
    from gateway.core.db import make_sessionmaker
    from gateway.results.report import has_headline_report, headline_report
    from gateway.results.report_text import report_text

    settings = Settings.from_env()
    flow = _known_flow(settings, flow_id)
    if flow.is_report:
        selection = _selection(since, until, None)
        with gateway_database(settings) as engine, make_sessionmaker(engine)() as session:
            click.echo(report_figures(session, flow, selection, region, enumerator, language))
        return
    if region or enumerator:
        raise BadSetup("--region and --enumerator are for report flows")
    if not has_headline_report(flow):
        raise BadSetup(f"the flow '{flow_id}' has no headline report (it is for return_intention)")
    selection = _selection(since, until, campaign_id)
    with gateway_database(settings) as engine, make_sessionmaker(engine)() as session:
        selection = _campaign_of(session, selection)
        result = headline_report(
            session,
            flow,
            selection=selection,
            k=k,
            language=language,
        )
    click.echo(report_text(result))


def _export_reports(
    settings: Settings,
    flow: Flow,
    fmt: str,
    since: str | None,
    until: str | None,
    region: str | None,
    enumerator: str | None,
    output: Path | None,
) -> None:
    """Export an enumerators' report flow as CSV, HXL or XLSX, audited as any export."""
    from gateway.core.db import make_sessionmaker
    from gateway.reports.export import write_reports, write_reports_xlsx

    if fmt == "xlsx" and output is None and sys.stdout.isatty():
        raise BadSetup("xlsx is a binary file: give --output FILE (or redirect to a file)")
    chosen = _report_filter(_selection(since, until, None), region, enumerator)
    with gateway_database(settings) as engine, make_sessionmaker(engine).begin() as session:
        target = _stdout_for(fmt) if output is None else _open_for(fmt, output)
        with target as out:
            if fmt == "xlsx":
                count = write_reports_xlsx(session, flow, chosen, cast(IO[bytes], out))
            else:
                count = write_reports(session, flow, chosen, cast(TextIO, out), hxl=fmt == "hxl")
        audit(session, CLI_ACTOR, "report.export", "flow", flow.id, f"{fmt}, {count} reports")
    click.echo(f"{plural(count, 'report')} exported.", err=True)


def _report_filter(
    selection: SubmissionFilter, region: str | None, enumerator: str | None
) -> ReportFilter:
    from gateway.enumerators.registrations import normalise_code
    from gateway.reports.aggregates import ReportFilter

    return ReportFilter(
        since=selection.since,
        until=selection.until,
        region=region.strip().lower() if region else None,
        enumerator=(normalise_code(enumerator) or enumerator.strip()) if enumerator else None,
    )


def report_figures(
    session: Session,
    flow: Flow,
    selection: SubmissionFilter,
    region: str | None,
    enumerator: str | None,
    language: str,
) -> str:
    """A report flow's headline figures as text, over the reports that match."""
    from gateway.reports.report_text import figures_text

    text = figures_text(session, flow, _report_filter(selection, region, enumerator), language)
    if text is None:
        raise BadSetup(f"the report flow '{flow.id}' has no headline figures")
    return text


def _known_flow(settings: Settings, flow_id: str) -> Flow:
    known = load_flows(settings.flows_folder)
    if flow_id not in known:
        raise BadSetup(f"unknown flow '{flow_id}' (known: {', '.join(sorted(known))})")
    return known[flow_id]


def _selection(since: str | None, until: str | None, campaign_id: str | None) -> SubmissionFilter:
    try:
        return parse_filter(since, until, campaign_id)
    except ValueError as exc:
        raise BadSetup(str(exc)) from None


def _campaign_of(session: Session, selection: SubmissionFilter) -> SubmissionFilter:
    """The selection with its campaign found by id or id prefix; BadSetup if there is none."""
    from gateway.campaigns.definition import CampaignError, find_campaign

    if selection.campaign_id is None:
        return selection
    try:
        found = find_campaign(session, selection.campaign_id)
    except CampaignError as exc:
        raise BadSetup(str(exc)) from None
    return dataclasses.replace(selection, campaign_id=found.id)


@contextmanager
def _stdout_for(fmt: str) -> Iterator[IO[Any]]:
    """Standard output for an export: raw bytes for xlsx, else text as the CSV writer needs."""
    if fmt == "xlsx":
        sys.stdout.flush()
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    with _stdout_for_csv() as out:
        yield out


def _open_for(fmt: str, path: Path) -> IO[Any]:
    if fmt == "xlsx":
        return open(path, "wb")
    return open(path, "w", encoding="utf-8", newline="")


@contextmanager
def _stdout_for_csv() -> Iterator[TextIO]:
    """Standard output as UTF-8 without newline translation, as the CSV writer needs.

    On a terminal, control characters in the data are shown as ``?``: an answer holding an
    escape sequence must not rewrite the operator's screen. Files and pipes get the exact data.
    """
    out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
    sys.stdout.flush()
    safe = _TerminalSafe(out) if sys.stdout.isatty() else None
    try:
        yield out if safe is None else cast(TextIO, safe)
    finally:
        if safe is not None:
            safe.finish()
        out.flush()
        out.detach()  # leave sys.stdout open


class _TerminalSafe(io.TextIOBase):
    """A text stream to a terminal that shows control characters as ``?``, line breaks kept."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        written = len(text)
        text = self._pending + text
        # A "\r\n" split across two writes is still a line break, not a "?".
        self._pending = "\r" if text.endswith("\r") else ""
        self._out.write(printable_lines(text[: len(text) - len(self._pending)]))
        return written

    def finish(self) -> None:
        """Show a carriage return left at the very end."""
        if self._pending:
            self._out.write(printable_lines(self._pending))
            self._pending = ""


@contextmanager
def gateway_database(settings: Settings) -> Iterator[Engine]:
    """An engine on the gateway's database, refusing one that was never set up."""
    from gateway.core.db import make_engine
    from gateway.messaging.models import Message
    from gateway.surveys.models import Submission

    engine = make_engine(settings.database_url)
    try:
        tables = inspect(engine)
        if not all(tables.has_table(t) for t in (Submission.__tablename__, Message.__tablename__)):
            # Reading commands do not migrate: that is for the processes that write.
            raise BadSetup(
                f"the database {hide_password(settings.database_url)} has no gateway tables "
                "yet: start `survey-gateway run` (or `survey-gateway worker`) once to create them"
            )
        yield engine
    finally:
        engine.dispose()
