"""The audited export: a flow's submissions as row-level data, the same from every surface.

Exports are row-level (pseudonymised) data, so each one is written to the audit log before any
of it goes out, whether the API streams it, the dashboard sends it as a file or the CLI writes
it to a file or a pipe. :func:`start_export` reads the selection as a person typed it, records
the export (``format=csv rows=40 since=2025-03-02``) and returns it ready to be produced.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from sqlalchemy.orm import Session, sessionmaker

from flows import Flow
from gateway.campaigns.definition import find_campaign
from gateway.core.clock import utc_now
from gateway.core.errors import DomainError
from gateway.results.export import ExportFormat, export_chunks, export_filename, write_export
from gateway.results.selection import SubmissionFilter, parse_filter
from gateway.results.submissions import count_submissions
from gateway.staff.audit import NamedActor, audit


class ExportError(DomainError):
    """An export that cannot be made as asked: a period that is not one (422)."""


@dataclass(frozen=True, slots=True)
class AuditedExport:
    """An export the audit log holds, ready to produce; it reads in a session of its own."""

    flow: Flow
    fmt: ExportFormat
    selection: SubmissionFilter
    rows: int
    at: datetime
    sessions: sessionmaker[Session]
    labels: str | None = None

    @property
    def filename(self) -> str:
        """A safe file name: the flow, the day, the labels' language and the extension."""
        return export_filename(self.flow.id, self.fmt, self.at.date(), self.labels)

    def chunks(self) -> Iterator[bytes]:
        """The export as bytes, piece by piece as rows come (an XLSX file once built)."""
        with self.sessions() as session:
            yield from export_chunks(
                session,
                self.flow,
                self.fmt,
                self.at,
                selection=self.selection,
                labels=self.labels,
            )

    def write(self, out: IO[Any]) -> int:
        """Write the export to ``out`` (binary for xlsx, else text); how many rows it holds."""
        with self.sessions() as session:
            return write_export(
                session,
                self.flow,
                self.fmt,
                out,
                self.at,
                selection=self.selection,
                labels=self.labels,
            )


def start_export(
    sessions: sessionmaker[Session],
    actor: NamedActor | str,
    flow: Flow,
    fmt: ExportFormat,
    *,
    since: str | None = None,
    until: str | None = None,
    campaign: str | None = None,
    status: str | None = None,
    labels: str | None = None,
    day_first: bool = False,
    now: datetime | None = None,
) -> AuditedExport:
    """Record that ``actor`` exports ``flow`` in ``fmt``, and return the export to produce.

    ``since``, ``until``, ``campaign`` and ``status`` are as typed (a day or an ISO time, or
    with ``day_first`` also 31/03/2025; a campaign id or its first characters); the audit row
    names them so. ``labels`` (a language of the flow) exports labels instead of codes.
    Raises ``ExportError`` (422) for a period, status or language that cannot be read and
    ``CampaignError`` (404, 409) for a campaign that cannot be found. Takes the session
    factory, not the runtime: an export at a terminal needs no Redis.
    """
    at = now or utc_now()
    if labels is not None and labels not in flow.languages:
        raise ExportError(f"labels: the flow has no language {labels[:8]!r}")
    try:
        selection = parse_filter(
            since, until, campaign, status=status, as_of=at, day_first=day_first
        )
    except ValueError as exc:
        raise ExportError(str(exc)) from None
    with sessions.begin() as session:
        if selection.campaign_id is not None:
            found = find_campaign(session, selection.campaign_id)
            selection = dataclasses.replace(selection, campaign_id=found.id)
        rows = count_submissions(session, flow=flow.id, selection=selection)
        asked = {
            "labels": labels,
            "campaign": campaign,
            "since": since,
            "until": until,
            "status": status,
        }
        filters = "".join(f" {name}={value}" for name, value in asked.items() if value)
        audit(session, actor, "export", "flow", flow.id, f"format={fmt} rows={rows}{filters}")
    return AuditedExport(flow, fmt, selection, rows, at, sessions, labels)
