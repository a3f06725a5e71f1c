"""Dashboard, for managers: the outbox, what became of each message and why, and a retry.

The list shows what kind of message it was (question, confirmation, invitation...), never its
body: a household's messages are not for every manager to read. Numbers are masked. A retry is
``gateway.messaging.services.retry_message``: refused when sending again is not safe, audited,
and sent by the normal send job.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from gateway.campaigns.definition import list_campaigns
from gateway.core.errors import DomainError
from gateway.core.i18n import translate
from gateway.messaging.models import MessageStatus
from gateway.messaging.outbox import OutboxEntry, OutboxFilter, outbox_page
from gateway.messaging.services import may_retry, retry_message
from gateway.staff.models import Role
from gateway.web.dashboard.base import language, require, signed_in, staff_blueprint, t
from gateway.web.dashboard.listing import Pager, filter_args, link_args, page_asked, read_period
from gateway.web.runtime import runtime

CAMPAIGN_CHOICES = 50
# Where a retry may send the browser back to: this list, with its filters.
_LIST_PATH = "/dashboard/messages/"

bp = staff_blueprint("dashboard_messages", __name__, "/dashboard/messages")


def said(prefix: str, value: str | None) -> str:
    """A value (a kind, AT's failure reason) in the reader's words when we have them, else as
    it is: AT may add reasons, flows may add kinds."""
    if not value:
        return ""
    key = f"{prefix}.{value.lower()}"
    text = translate(language(), key)
    return value if text == key else text


@bp.get("/")
@require(Role.MANAGER)
def index() -> ResponseReturnValue:
    """Outbound messages, newest first, a page at a time; by status, campaign and period."""
    rt = runtime()
    args = filter_args("status", "campaign", "since", "until")
    problems: dict[str, str] = {}
    period = read_period(args, problems)
    statuses = [status.value for status in MessageStatus]
    if args["status"] and args["status"] not in statuses:
        problems["status"] = t("messages.bad_status")
    chosen = OutboxFilter(
        status=MessageStatus(args["status"]) if args["status"] in statuses else None,
        campaign_id=args["campaign"] or None,
        since=period.since,
        before=period.before,
    )
    asked = Pager(page=page_asked(), total=0)
    with rt.sessions() as session:
        total, entries = outbox_page(session, chosen, offset=asked.offset, limit=asked.rows)
        campaigns = {c.id: c.name for c in list_campaigns(session)[:CAMPAIGN_CHOICES]}
        retryable = {entry.id for entry in entries if may_retry(session, rt, entry)}
    page = render_template(
        "dashboard/messages.html",
        rows=[_row(entry, campaigns, entry.id in retryable) for entry in entries],
        statuses=statuses,
        campaigns=campaigns,
        args=args,
        links=link_args(args),
        problems=problems,
        pager=Pager(page=asked.page, total=total),
        back=request.full_path.rstrip("?"),
    )
    return page, 400 if problems else 200


@bp.post("/<message_id>/retry")
@require(Role.MANAGER)
def retry(message_id: str) -> ResponseReturnValue:
    """Send a failed message again, when that is safe; then back to the list."""
    back = request.form.get("back", "")
    if not back.startswith(_LIST_PATH) or "\\" in back:
        back = url_for("dashboard_messages.index")
    try:
        retry_message(runtime(), signed_in().actor, message_id[:36])
    except DomainError as exc:
        if exc.status == 404:
            abort(404)
        flash(t("messages.retry_refused", problem=exc.in_language(language())), "error")
    else:
        flash(t("messages.retried"), "ok")
    return redirect(back)


def _row(entry: OutboxEntry, campaigns: dict[str, str], retryable: bool) -> dict[str, Any]:
    return {
        "entry": entry,
        "kind": said("message_kind", entry.kind),
        "status": t(f"message_status.{entry.status.value}"),
        "campaign": campaigns.get(entry.campaign_id or "", ""),
        "reason": said("at_reason", entry.failure_reason),
        "retryable": retryable,
    }
