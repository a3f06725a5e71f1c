"""Dashboard: the headline figures of enumerators' reports, one report flow at a time.

The figures are ``gateway.reports.aggregates``'s, as ``survey-gateway report`` prints them:
counts about places, so nothing is suppressed, but staff only (any signed-in role). Filtered
by period (days typed as the results page reads them), region and enumerator code.
"""

from __future__ import annotations

from flask import abort, render_template, request
from flask.typing import ResponseReturnValue

from flows import Flow
from flows.model import localise
from gateway.enumerators.registrations import normalise_code
from gateway.reports.aggregates import (
    ReportFilter,
    flow_figures,
    selected_reports,
    site_figures,
)
from gateway.results.selection import EmptyPeriod, UnreadableDate, parse_filter
from gateway.staff.models import Role
from gateway.web.dashboard.base import language, require, staff_blueprint, t
from gateway.web.runtime import runtime

bp = staff_blueprint("dashboard_reports", __name__, "/dashboard/reports")


def report_flows() -> list[Flow]:
    """The report flows, in the order of the enumerator menu."""
    return list(runtime().services.report_flows)


@bp.get("/")
@require(Role.VIEWER)
def index() -> ResponseReturnValue:
    """The first report flow's figures."""
    flows = report_flows()
    if not flows:
        abort(404)
    return figures(flows[0].id)


@bp.get("/<flow_id>")
@require(Role.VIEWER)
def figures(flow_id: str) -> ResponseReturnValue:
    """One report flow's figures over the reports the filter keeps."""
    flow = runtime().services.report_flow(flow_id[:64])
    if flow is None:
        abort(404)
    args = {
        k: request.args.get(k, "").strip()[:40] for k in ("since", "until", "region", "enumerator")
    }
    errors: dict[str, str] = {}
    selection = ReportFilter()
    try:
        period = parse_filter(args["since"] or None, args["until"] or None, day_first=True)
    except UnreadableDate as exc:
        errors["since" if exc.text == args["since"] else "until"] = t(
            "results.bad_date", value=exc.text
        )
    except EmptyPeriod:
        errors["until"] = t("results.bad_period")
    else:
        code = args["enumerator"]
        selection = ReportFilter(
            since=period.since,
            until=period.until,
            region=args["region"].lower() or None,
            enumerator=(normalise_code(code) or code) if code else None,
        )
    with runtime().sessions() as session:
        rows = [] if errors else selected_reports(session, flow.id, selection)
    lang = language()
    # What a report is about: a site's region, or a flow monitoring point.
    regions_key = "point" if flow.id == "flow_monitoring" else "region"

    def label(key: str, code: str) -> str:
        option = next((o for o in flow.question(key).options if o.code == code), None)
        return localise(option.label, lang, flow.default_language) if option else code

    return render_template(
        "dashboard/field_reports.html",
        flow=flow,
        flows=report_flows(),
        args=args,
        errors=errors,
        label=label,
        regions=flow.question(regions_key).options,
        regions_key=regions_key,
        moves=flow_figures(rows) if flow.id == "flow_monitoring" else None,
        sites=site_figures(rows) if flow.id == "location_assessment" else None,
        count=len(rows),
    )
