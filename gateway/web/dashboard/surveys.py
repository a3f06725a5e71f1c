"""Dashboard: the surveys (flows) published, an XLSForm upload with its import report, a draft
tried in the phone simulator then published, and each flow as an XLSForm to download, edit and
upload again.

An upload is ``gateway.surveys.services.import_flow``: the form becomes a draft, audited. A
publish is ``publish_flow``: audited, and every process starts new runs on it within a second.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Response, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

if TYPE_CHECKING:
    from gateway.surveys.flow_files import ImportReport, PublishReport
    from gateway.surveys.xlsform_rules import Problem

from gateway.staff.models import Role
from gateway.surveys.drafts import load_draft
from gateway.surveys.services import NoDraft, import_flow, publish_flow, published_flows
from gateway.web.dashboard.base import allow_upload, require, signed_in, staff_blueprint, t
from gateway.web.runtime import runtime
from gateway.web.simulator_preview import start_preview

# A questionnaire with long choice lists (every site of a country) is a few hundred KB at most.
UPLOAD_MAX_BYTES = 2 * 1024 * 1024
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

bp = staff_blueprint("dashboard_surveys", __name__, "/dashboard/surveys")


@bp.get("/")
@require(Role.MANAGER)
def index() -> ResponseReturnValue:
    """The flows published and their versions, and the upload form."""
    return _page(report=None, problems=[])


@bp.post("/")
@require(Role.MANAGER)
@allow_upload(UPLOAD_MAX_BYTES)
def upload() -> ResponseReturnValue:
    """Import the uploaded XLSForm; the page shows what was done, or every problem at once."""
    # pyxform takes a while to load: loaded by the first upload, not by every web worker.
    from gateway.surveys.xlsform_rules import XlsFormRefused

    form = request.files.get("form")
    if form is None or not form.filename:
        return _page(report=None, problems=[t("surveys.no_file")]), 422
    try:
        report = import_flow(runtime(), signed_in().actor, form.stream.read(), form.filename)
    except XlsFormRefused as exc:
        return _page(report=None, problems=[_problem(p) for p in exc.problems]), 422
    return _page(report=report, problems=[])


@bp.post("/<flow_id>/preview")
@require(Role.MANAGER)
def preview(flow_id: str) -> ResponseReturnValue:
    """Open the phone simulator on the draft of ``flow_id``."""
    if load_draft(runtime().settings.flows_folder, flow_id) is None:
        abort(404)
    start_preview(flow_id)
    return redirect(url_for("simulator.page"))


@bp.post("/<flow_id>/publish")
@require(Role.MANAGER)
def publish(flow_id: str) -> ResponseReturnValue:
    """Put the draft of ``flow_id`` in service; the page says what was done."""
    from gateway.surveys.xlsform_rules import XlsFormRefused

    try:
        published = publish_flow(runtime(), signed_in().actor, flow_id)
    except NoDraft:
        abort(404)
    except XlsFormRefused as exc:
        return _page(report=None, problems=[_problem(p) for p in exc.problems]), 409
    return _page(report=None, problems=[], published=published)


@bp.get("/<flow_id>.xlsx")
@require(Role.MANAGER)
def download(flow_id: str) -> ResponseReturnValue:
    """The flow as an XLSForm."""
    from gateway.surveys.xlsform_export import xlsform_bytes

    found = {p.flow.id: p.flow for p in published_flows(runtime())}
    if flow_id not in found:
        abort(404)
    return Response(
        xlsform_bytes(found[flow_id]),
        mimetype=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{flow_id}.xlsx"'},
    )


def _page(
    report: ImportReport | None, problems: list[str], published: PublishReport | None = None
) -> str:
    rt = runtime()
    return render_template(
        "dashboard/surveys.html",
        flows=published_flows(rt),
        ussd_flow=rt.settings.ussd_flow,
        report=report,
        problems=problems,
        published=published,
    )


def _problem(problem: Problem) -> str:
    # The reason is the importer's English sentence; where it is, in the reader's language.
    if problem.row is None:
        return t("surveys.problem_sheet", sheet=problem.sheet, why=problem.why)
    return t(
        "surveys.problem_at",
        sheet=problem.sheet,
        row=problem.row,
        column=problem.column or "-",
        why=problem.why,
    )
