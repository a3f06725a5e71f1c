"""Results API: submissions page by page, the headline report, and exports; role ``viewer``.

Every answer is pseudonymised (no phone number is ever read here). Exports are row-level data:
each is ``gateway.results.services.start_export``, written to the audit log before it is sent.
An unknown flow or campaign is a JSON 404, as every API error is.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import marshmallow as ma
from flask import Response
from flask_smorest import abort

from flows import Flow
from gateway.campaigns.definition import CampaignError, find_campaign
from gateway.core.clock import utc_now
from gateway.core.errors import DomainError
from gateway.results.export import (
    MEDIA_TYPES,
    ExportFormat,
)
from gateway.results.report import has_headline_report, headline_report
from gateway.results.selection import STATUSES, SubmissionFilter, parse_filter
from gateway.results.services import start_export
from gateway.results.submissions import (
    PER_PAGE_DEFAULT,
    PER_PAGE_MAX,
    list_submissions,
)
from gateway.results.suppression import DEFAULT_K, MIN_K
from gateway.staff.models import Role
from gateway.web.api.base import ApiBlueprint, read_session
from gateway.web.auth import current_actor, require_role
from gateway.web.runtime import runtime

blp = ApiBlueprint("results", __name__, description="Submissions, headline report and exports")
BLUEPRINTS = (blp,)

_DATE = {"description": "A day (2025-03-31, UTC) or an ISO 8601 time; 'until' includes the day"}


# -- schemas --------------------------------------------------------------------------------


class PeriodSchema(ma.Schema):
    """Which submissions: started from ``since`` to ``until``, of one campaign."""

    since = ma.fields.String(validate=ma.validate.Length(max=40), metadata=_DATE)
    until = ma.fields.String(validate=ma.validate.Length(max=40), metadata=_DATE)
    campaign = ma.fields.String(
        validate=ma.validate.Length(max=36), metadata={"description": "A campaign id"}
    )
    status = ma.fields.String(
        validate=ma.validate.OneOf(STATUSES),
        metadata={"description": "Only submissions with this status, as listings show it"},
    )


class ExportQuerySchema(PeriodSchema):
    """An export's selection, and whether it holds codes or labels."""

    labels = ma.fields.String(
        validate=ma.validate.Length(max=8),
        metadata={"description": "A language of the flow (fr, en): labels instead of codes"},
    )


class PageQuerySchema(PeriodSchema):
    """A page of submissions."""

    cursor = ma.fields.String(
        validate=ma.validate.Length(max=200),
        metadata={"description": "next_cursor of the previous page; none for the first"},
    )
    per_page = ma.fields.Integer(
        load_default=PER_PAGE_DEFAULT, validate=ma.validate.Range(min=1, max=PER_PAGE_MAX)
    )


class ReportQuerySchema(PeriodSchema):
    """The headline report's selection, threshold and language."""

    k = ma.fields.Integer(
        load_default=DEFAULT_K,
        validate=ma.validate.Range(min=MIN_K, max=1000),
        metadata={"description": "Hide counts of fewer than k households"},
    )
    language = ma.fields.String(
        validate=ma.validate.Length(max=8), metadata={"description": "fr or en"}
    )


class SubmissionSchema(ma.Schema):
    """One submission: the respondent by pseudonym, answers as codes."""

    id = ma.fields.String()
    respondent = ma.fields.String(metadata={"description": "Pseudonym (HMAC of the number)"})
    flow = ma.fields.String()
    flow_version = ma.fields.Integer()
    channel = ma.fields.String()
    enumerator = ma.fields.String(allow_none=True)
    language = ma.fields.String()
    status = ma.fields.String(metadata={"description": "started, completed, declined, expired"})
    started_at = ma.fields.String()
    completed_at = ma.fields.String(allow_none=True)
    answers = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Raw(),
        metadata={"description": "Codes; whole-number answers (household_size) as numbers"},
    )


class SubmissionPageSchema(ma.Schema):
    """A page of submissions, oldest first."""

    items = ma.fields.List(ma.fields.Nested(SubmissionSchema))
    total = ma.fields.Integer(metadata={"description": "Submissions in the whole selection"})
    per_page = ma.fields.Integer()
    next_cursor = ma.fields.String(
        allow_none=True, metadata={"description": "Pass as 'cursor' for the next page"}
    )


class ReportRowSchema(ma.Schema):
    """A row of a report table; numbers are null when suppressed."""

    code = ma.fields.String()
    label = ma.fields.String()
    households = ma.fields.Integer(allow_none=True)
    share = ma.fields.Float(allow_none=True, metadata={"description": "Percent, one decimal"})
    people = ma.fields.Integer(allow_none=True)
    suppressed = ma.fields.String(
        allow_none=True, metadata={"description": "'small' (under k) or 'complementary'"}
    )
    display = ma.fields.String(metadata={"description": "As shown: '27', '<5' or 'x'"})


class ReportTableSchema(ma.Schema):
    """Households (and people, by region) by one answer."""

    key = ma.fields.String()
    title = ma.fields.String()
    households = ma.fields.Integer(allow_none=True)
    people = ma.fields.Integer(allow_none=True)
    overlapping = ma.fields.Boolean(
        metadata={"description": "True when a household counts in several rows (needs)"}
    )
    with_people = ma.fields.Boolean(metadata={"description": "True when rows count people"})
    rows = ma.fields.List(ma.fields.Nested(ReportRowSchema))


class ReportSchema(ma.Schema):
    """The headline report of completed submissions, small cells suppressed."""

    flow = ma.fields.String()
    flow_name = ma.fields.String()
    language = ma.fields.String()
    k = ma.fields.Integer()
    campaign_id = ma.fields.String(allow_none=True)
    since = ma.fields.String(allow_none=True)
    until = ma.fields.String(allow_none=True)
    households = ma.fields.Integer(allow_none=True)
    people = ma.fields.Integer(allow_none=True)
    tables = ma.fields.List(ma.fields.Nested(ReportTableSchema))


# -- views ----------------------------------------------------------------------------------


@blp.route("/flows/<flow_id>/submissions", methods=["GET"])
@require_role(Role.VIEWER)
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, SubmissionPageSchema)
def flow_submissions(query: dict[str, Any], flow_id: str) -> Any:
    """A flow's submissions, oldest first, a page at a time (cursor-based)."""
    flow = _flow(flow_id)
    return _page(query, flow=flow.id, selection=_selection(query))


@blp.route("/campaigns/<campaign_id>/submissions", methods=["GET"])
@require_role(Role.VIEWER)
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, SubmissionPageSchema)
def campaign_submissions(query: dict[str, Any], campaign_id: str) -> Any:
    """The submissions a campaign's invitations led to, oldest first, a page at a time."""
    selection = _selection({**query, "campaign": campaign_id})
    return _page(query, flow=None, selection=selection)


@blp.route("/flows/<flow_id>/report", methods=["GET"])
@require_role(Role.VIEWER)
@blp.arguments(ReportQuerySchema, location="query")
@blp.response(200, ReportSchema)
def flow_report(query: dict[str, Any], flow_id: str) -> Any:
    """The headline report: intentions, needs, current and origin regions.

    Counts of fewer than k households are null (shown as '<5'); so is, where it would let one
    be worked out from the total, the next smallest ('x').
    """
    flow = _flow(flow_id)
    if not has_headline_report(flow):
        abort(404, message=f"the flow '{flow.id}' has no headline report")
    selection = _selection(query)
    with read_session() as session:
        report = headline_report(
            session,
            flow,
            selection=selection,
            k=query["k"],
            language=query.get("language"),
        )
    return report.as_dict()


def _export(query: dict[str, Any], flow_id: str, fmt: ExportFormat) -> Response:
    """Download a flow's submissions, pseudonymised, one column per question; audited."""
    flow = _flow(flow_id)
    try:
        export = start_export(
            runtime().sessions,
            current_actor(),
            flow,
            fmt,
            since=query.get("since"),
            until=query.get("until"),
            campaign=query.get("campaign"),
            status=query.get("status"),
            labels=query.get("labels"),
        )
    except DomainError as exc:
        abort(exc.status, message=str(exc))
    return Response(
        # Streamed in a session of the export's own, as long as the download, not the view.
        export.chunks(),
        mimetype=MEDIA_TYPES[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{export.filename}"',
            # Personal data: no shared cache may keep a copy.
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _export_route(fmt: ExportFormat, what: str) -> None:
    # One plain route per format (not a converter): each is its own documented operation.
    @blp.route(f"/flows/<flow_id>/export.{fmt}", methods=["GET"], endpoint=f"export_{fmt}")
    @require_role(Role.VIEWER)
    @blp.arguments(ExportQuerySchema, location="query")
    @blp.doc(
        summary=f"Download a flow's submissions as {what}",
        description="Pseudonymised, one row per submission, one column per question; audited.",
        responses={200: {"description": what, "content": {MEDIA_TYPES[fmt]: {}}}},
    )
    def view(query: dict[str, Any], flow_id: str) -> Response:
        return _export(query, flow_id, fmt)


_export_route("csv", "CSV")
_export_route("xlsx", "an Excel workbook (XLSX)")
_export_route("hxl", "CSV with an HXL hashtag row under the header")


# -- helpers --------------------------------------------------------------------------------


def _flow(flow_id: str) -> Flow:
    flow = runtime().flows.get(flow_id)
    if flow is None:
        # The id is not echoed: it comes from the URL and may be anything.
        abort(404, message="no such flow: see survey-gateway flows check for the known ones")
        raise AssertionError("abort returned")  # abort always raises; for the type checker
    return flow


def _selection(query: dict[str, Any]) -> SubmissionFilter:
    try:
        selection = parse_filter(
            query.get("since"),
            query.get("until"),
            query.get("campaign"),
            status=query.get("status"),
            as_of=utc_now(),
        )
    except ValueError as exc:
        abort(422, message=str(exc))
    if selection.campaign_id is None:
        return selection
    with read_session() as session:
        try:
            found = find_campaign(session, selection.campaign_id)
        except CampaignError as exc:
            abort(exc.status, message=str(exc))
            raise AssertionError("abort returned") from None  # for the type checker
    return dataclasses.replace(selection, campaign_id=found.id)


def _page(query: dict[str, Any], *, flow: str | None, selection: SubmissionFilter) -> Any:
    with read_session() as session:
        try:
            page = list_submissions(
                session,
                utc_now(),
                flow=flow,
                selection=selection,
                cursor=query.get("cursor"),
                per_page=query["per_page"],
                flows=runtime().flows,
            )
        except ValueError as exc:
            abort(422, message=str(exc))
    return page.as_dict()
