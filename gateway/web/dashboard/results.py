"""Dashboard: a flow's headline results as bar charts, the bulletin, and its exports.

The report is ``gateway.results.report.headline_report``: small cells are suppressed there, before
anything is drawn, so neither the charts nor the tables can show them. Exports (CSV, XLSX, HXL,
coded or labelled) are row-level, pseudonymised data; each download is
``gateway.results.services.start_export``, written to the audit log before it goes out, as the
API's and the CLI's are. The submissions page (``.submissions``) shares the filter read here.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import tempfile
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import IO

from flask import Response, abort, make_response, render_template, request, send_file
from flask.typing import ResponseReturnValue
from markupsafe import Markup

from flows import Flow
from gateway.campaigns.definition import list_campaigns
from gateway.core.clock import utc_now
from gateway.core.errors import DomainError
from gateway.core.runtime import Runtime
from gateway.results.export import EXPORT_FORMATS, MEDIA_TYPES, ExportFormat
from gateway.results.labels import flow_name
from gateway.results.report import HeadlineReport, ReportTable, has_headline_report, headline_report
from gateway.results.selection import (
    EmptyPeriod,
    SubmissionFilter,
    UnreadableDate,
    parse_filter,
    parse_moment,
)
from gateway.results.services import AuditedExport, start_export
from gateway.staff.models import Role
from gateway.web.charts import report_chart
from gateway.web.dashboard.base import language, require, signed_in, staff_blueprint, t
from gateway.web.formats import number, percent
from gateway.web.runtime import runtime

# Exports up to this size stay in memory; bigger ones go to a temporary file while they go out.
SPOOL_IN_MEMORY = 4 * 1024 * 1024
CAMPAIGN_CHOICES = 50
STATIC = Path(__file__).parents[1] / "static"
FILTERS = ("flow", "campaign", "since", "until", "status")
# The formats offered with labels: HXL is for machines, which want codes.
LABELLED_FORMATS: tuple[ExportFormat, ...] = ("csv", "xlsx")

bp = staff_blueprint("dashboard_results", __name__, "/dashboard/results")


@dataclass(frozen=True, slots=True)
class Query:
    """What a results page or export asks for: a flow and a selection of its submissions."""

    flow: Flow
    selection: SubmissionFilter
    args: dict[str, str]  # as given, for the form and the export links


@dataclass(frozen=True, slots=True)
class BadQuery:
    """A filter that cannot be read: what was typed, and a problem per field, all at once."""

    flow: Flow
    args: dict[str, str]
    errors: dict[str, str]


def flow_title(flow_id: str) -> str:
    """A flow's name in the reader's language, for any staff page (a Jinja global)."""
    return flow_name(runtime().flows, flow_id, language())


bp.add_app_template_global(flow_title, "flow_title")


def report_flows(rt: Runtime) -> list[Flow]:
    """The flows that have a headline report, the USSD flow first."""
    flows = [flow for flow in rt.flows.values() if has_headline_report(flow)]
    return sorted(flows, key=lambda flow: (flow.id != rt.settings.ussd_flow, flow.id))


def parse_query(rt: Runtime) -> Query | BadQuery:
    """The flow and filter from the query string, or what is wrong with each field.

    Dates may be typed as the reader writes them (31/03/2026) or in ISO 8601 (2026-03-31).
    """
    args = {name: request.args.get(name, "").strip()[:64] for name in FILTERS}
    flow = rt.flows.get(args["flow"] or rt.settings.ussd_flow)
    if flow is None:
        abort(404)
    args["flow"] = flow.id
    given = {k: v for k, v in args.items() if v}
    errors: dict[str, str] = {}
    for name in ("since", "until"):
        try:
            if args[name]:
                parse_moment(args[name], day_first=True)
        except UnreadableDate as exc:
            errors[name] = t("results.bad_date", value=exc.text)
    if not errors:
        try:
            selection = parse_filter(
                args["since"],
                args["until"],
                args["campaign"],
                status=args["status"],
                as_of=utc_now(),
                day_first=True,
            )
        except EmptyPeriod:
            errors["until"] = t("results.bad_period")
        except ValueError:
            errors["status"] = t("results.bad_status")
    if errors:
        return BadQuery(flow=flow, args=given, errors=errors)
    return Query(flow=flow, selection=selection, args=given)


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


def chart(table: ReportTable) -> Markup:
    """A report table as an SVG bar chart, its numbers written as the reader writes them."""
    svg = report_chart(table, share_text=lambda share: percent(share / 100), count_text=number)
    return Markup(svg)  # escaped text only: gateway.web.charts


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
    campaigns = campaign_choices(rt, query.flow.id)
    if isinstance(query, BadQuery):
        return render_template(
            "dashboard/results.html",
            flows=flows,
            query=query,
            found=None,
            campaigns=campaigns,
            errors=query.errors,
        ), 400
    found = report(rt, query, language())
    charts = {} if found is None else {table.key: chart(table) for table in found.tables}
    return render_template(
        "dashboard/results.html",
        flows=flows,
        query=query,
        found=found,
        charts=charts,
        campaigns=campaigns,
        formats=EXPORT_FORMATS,
        labelled=LABELLED_FORMATS,
        errors={},
    )


@bp.get("/bulletin")
@require(Role.VIEWER)
def bulletin() -> ResponseReturnValue:
    """The headline report on one printable page, for a weekly bulletin; saved with ?download=1.

    The page is one self-contained file (its style and charts inside), so that a saved copy
    prints the same offline; its own Content-Security-Policy allows that one style by hash.
    """
    rt = runtime()
    query = parse_query(rt)
    if isinstance(query, BadQuery):
        abort(400)
    found = report(rt, query, language())
    if found is None:
        abort(404)
    style = bulletin_style()
    campaigns = dict(campaign_choices(rt, query.flow.id))
    page = render_template(
        "dashboard/results_bulletin.html",
        found=found,
        query=query,
        until_day=last_day(found.selection.until),
        campaign_name=campaigns.get(query.args.get("campaign", "")),
        charts={table.key: chart(table) for table in found.tables},
        style=Markup(style),  # our own stylesheet
        made=utc_now(),
    )
    response = with_own_style(page, style)
    if request.args.get("download"):
        day = utc_now().date().isoformat()
        response.headers["Content-Disposition"] = (
            f'attachment; filename="{query.flow.id}_{day}_bulletin.html"'
        )
    return response


def last_day(until: datetime | None) -> datetime | None:
    """The last day a period covers: the day before an ``until`` at midnight (it is excluded)."""
    if until is None or until.time() != time(0):
        return until
    return until - timedelta(days=1)


@functools.cache
def bulletin_style() -> str:
    """The bulletin's stylesheet (screen and print), to be put inside the page."""
    return STATIC.joinpath("results_bulletin.css").read_text(encoding="utf-8")


def with_own_style(page: str, style: str) -> Response:
    """The page with a policy that allows its one inline style, and nothing more."""
    digest = base64.b64encode(hashlib.sha256(style.encode("utf-8")).digest()).decode("ascii")
    response = make_response(page)
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src 'sha256-{digest}'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return response


@bp.get("/export.<any(csv, xlsx, hxl):fmt>")
@require(Role.VIEWER)
def export(fmt: ExportFormat) -> ResponseReturnValue:
    """Download the flow's submissions (pseudonymised), coded or labelled, audited."""
    rt = runtime()
    query = parse_query(rt)
    if isinstance(query, BadQuery):
        abort(400)
    labels = request.args.get("labels") or None
    try:
        done = start_export(
            rt.sessions,
            signed_in().actor,
            query.flow,
            fmt,
            since=query.args.get("since"),
            until=query.args.get("until"),
            campaign=query.args.get("campaign"),
            status=query.args.get("status"),
            labels=labels[:8] if labels else None,
            day_first=True,
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
