"""Dashboard: the submissions of a flow, filtered and page by page, and their downloads.

Rows are ``gateway.results.submissions.list_submissions``: respondents by pseudonym (never a
number), answers as the flow's labels in the reader's language with the code at hand (a title
on each cell, or every cell as codes with ``codes=1``). Downloads go through the results
page's export, audited, with the same filters.
"""

from __future__ import annotations

from datetime import datetime

from flask import render_template, request
from flask.typing import ResponseReturnValue

from flows import Flow
from gateway.core.clock import utc_now
from gateway.core.runtime import Runtime
from gateway.results.labels import AnswerLabels
from gateway.results.selection import STATUSES
from gateway.results.submissions import SubmissionPage, list_submissions
from gateway.staff.models import Role
from gateway.web.dashboard.base import language, require, staff_blueprint, t
from gateway.web.dashboard.results import (
    LABELLED_FORMATS,
    BadQuery,
    Query,
    campaign_choices,
    parse_query,
)
from gateway.web.runtime import runtime

# Rows per page: a page of 25 stays light on a slow link, whatever the flow's width.
PER_PAGE = 25
CURSOR_CHARS = 200

bp = staff_blueprint("dashboard_submissions", __name__, "/dashboard/submissions")


def every_flow(rt: Runtime) -> list[Flow]:
    """Every loaded flow, the USSD flow first."""
    return sorted(rt.flows.values(), key=lambda flow: (flow.id != rt.settings.ussd_flow, flow.id))


def page_of(rt: Runtime, query: Query, cursor: str | None) -> SubmissionPage | None:
    """One page of the query's submissions; None for a cursor that is not one of ours."""
    with rt.sessions() as session:
        try:
            return list_submissions(
                session,
                utc_now(),
                flow=query.flow.id,
                selection=query.selection,
                cursor=cursor,
                per_page=PER_PAGE,
                flows=rt.flows,
            )
        except ValueError:
            return None


@bp.get("/")
@require(Role.VIEWER)
def index() -> ResponseReturnValue:
    """A flow's submissions, filtered by campaign, period and status, a page at a time."""
    rt = runtime()
    query = parse_query(rt)
    cursor = request.args.get("cursor", "")[:CURSOR_CHARS] or None
    codes = request.args.get("codes") == "1"
    common = {
        "flows": every_flow(rt),
        "query": query,
        "campaigns": campaign_choices(rt, query.flow.id),
        "statuses": STATUSES,
        "labels": AnswerLabels.of(query.flow, language()),
        "codes": codes,
        "cursor": cursor,
        "formats": LABELLED_FORMATS,
        "moment": datetime.fromisoformat,
    }
    if isinstance(query, BadQuery):
        return render_template(
            "dashboard/submissions.html", page=None, errors=query.errors, **common
        ), 400
    page = page_of(rt, query, cursor)
    if page is None:
        errors = {"cursor": t("submissions.bad_cursor")}
        return render_template(
            "dashboard/submissions.html", page=None, errors=errors, **common
        ), 400
    return render_template("dashboard/submissions.html", page=page, errors={}, **common)
