"""Dashboard: a flow's headline results as bar charts, and its exports.

The report is ``gateway.results.report.headline_report``: small cells are suppressed there, before
anything is drawn, so neither the charts nor the tables can show them. Exports (CSV, XLSX, HXL)
are row-level, pseudonymised data; each download is ``gateway.results.services.start_export``,
written to the audit log before it goes out, as the API's and the CLI's are.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from typing import IO

from flask import abort, render_template, request, send_file
from flask.typing import ResponseReturnValue
from markupsafe import Markup

from flows import Flow
from gateway.campaigns.definition import list_campaigns
from gateway.core.errors import DomainError
from gateway.core.runtime import Runtime
from gateway.results.export import (
    EXPORT_FORMATS,
    MEDIA_TYPES,
    ExportFormat,
)
from gateway.results.report import HeadlineReport, has_headline_report, headline_report
from gateway.results.selection import SubmissionFilter, parse_filter
from gateway.results.services import AuditedExport, start_export
from gateway.staff.models import Role
from gateway.web.charts import report_chart
from gateway.web.dashboard.base import (
    language,
    require,
    signed_in,
    staff_blueprint,
    t,
)
from gateway.web.runtime import runtime

# Exports up to this size stay in memory; bigger ones go to a temporary file while they go out.
SPOOL_IN_MEMORY = 4 * 1024 * 1024
CAMPAIGN_CHOICES = 50

bp = staff_blueprint("dashboard_results", __name__, "/dashboard/results")


@dataclass(frozen=True, slots=True)
class Query:
    """What a results page or export asks for: a flow and a selection of its submissions."""

    flow: Flow
    selection: SubmissionFilter
    args: dict[str, str]  # as given, for the form and the export links


def report_flows(rt: Runtime) -> list[Flow]:
    """The flows that have a headline report, the USSD flow first."""
    flows = [flow for flow in rt.flows.values() if has_headline_report(flow)]
    return sorted(flows, key=lambda flow: (flow.id != rt.settings.ussd_flow, flow.id))


def parse_query(rt: Runtime) -> Query | str:
    """The flow and filter from the query string, or a problem to show."""
    args = {
        name: request.args.get(name, "").strip()[:64]
        for name in ("flow", "campaign", "since", "until")
    }
    flow = rt.flows.get(args["flow"] or rt.settings.ussd_flow)
    if flow is None:
        abort(404)
    args["flow"] = flow.id
    try:
        selection = parse_filter(args["since"], args["until"], args["campaign"])
    except ValueError as exc:
        return str(exc)
    return Query(flow=flow, selection=selection, args={k: v for k, v in args.items() if v})


def campaign_choices(rt: Runtime, flow_id: str) -> list[tuple[str, str]]:
    """(id, name) of the flow's newest campaigns, for the filter."""
    with rt.sessions() as session:
        found = [c for c in list_campaigns(session) if c.flow == flow_id]
    return [(c.id, c.name) for c in found[:CAMPAIGN_CHOICES]]


def report(rt: Runtime, query: Query, lang: str) -> HeadlineReport | None:
    """The headline report of the query, or None when its flow has none."""
    if not has_headline_report(query.flow):
        return None
    with rt.sessions() as session:
        return headline_report(
            session,
            query.flow,
            selection=query.selection,
            language=lang,
        )


def spooled(export: AuditedExport) -> IO[bytes]:
    """The export as a file at its start, for ``send_file``."""
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
    for chunk in export.chunks():
        spool.write(chunk)
    spool.seek(0)
    return spool


@bp.get("/")
@require(Role.VIEWER)
def index() -> ResponseReturnValue:
    """The headline indicators of a flow (and optionally a campaign and period) as charts."""
    rt = runtime()
    query = parse_query(rt)
    flows = report_flows(rt)
    if isinstance(query, str):
        problem = t("results.bad_filter", problem=query)
        return render_template(
            "dashboard/results.html", flows=flows, query=None, found=None, problem=problem
        ), 400
    found = report(rt, query, language())
    campaigns = campaign_choices(rt, query.flow.id)
    charts = {}
    if found is not None:
        charts = {table.key: Markup(report_chart(table)) for table in found.tables}
    return render_template(
        "dashboard/results.html",
        flows=flows,
        query=query,
        found=found,
        charts=charts,
        campaigns=campaigns,
        formats=EXPORT_FORMATS,
        problem=None,
    )


@bp.get("/export.<any(csv, xlsx, hxl):fmt>")
@require(Role.VIEWER)
def export(fmt: ExportFormat) -> ResponseReturnValue:
    """Download the flow's submissions (pseudonymised), audited."""
    rt = runtime()
    query = parse_query(rt)
    if isinstance(query, str):
        abort(400)
    try:
        done = start_export(
            rt.sessions,
            signed_in().actor,
            query.flow,
            fmt,
            since=query.args.get("since"),
            until=query.args.get("until"),
            campaign=query.args.get("campaign"),
        )
    except DomainError as exc:
        abort(exc.status)
    response = send_file(
        spooled(done),
        mimetype=MEDIA_TYPES[fmt],
        as_attachment=True,
        download_name=done.filename,
        max_age=0,
    )
    response.headers["Cache-Control"] = "no-store"
    return response
