"""Africa's Talking delivery reports: ``POST /sms/delivery``.

AT posts one report each time a message it sent for us changes status, and posts it again
until it gets a 200. The view checks the form, lets each (message id, status) pair through
once (a Redis key), and queues ``workers.delivery.record_delivery``; it writes no SQL and
calls no AT. The phone number AT includes is never read: AT's message id finds the message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass

from flask import Blueprint, Response, request
from werkzeug.exceptions import BadRequest

from gateway.web.runtime import runtime
from gateway.web.webhooks.once import Take, not_taken, retry_later, take, taken
from gateway.web.webhooks.token import require_webhook_token

log = logging.getLogger(__name__)
bp = Blueprint("delivery_reports", __name__)
require_webhook_token(bp)

# Longer than AT keeps retrying a report, so every retry of one report finds its key.
DEDUPE_TTL_S = 7 * 24 * 3600
# The id and status become parts of a Redis key and an RQ job id ("dlr-{id}-{status}"): RQ
# takes only letters, digits, "_" and "-", and a status without "-" keeps every pair's job id
# distinct. AT's ids ("ATXid_...") and statuses ("Success") fit.
_PROVIDER_ID = re.compile(r"[A-Za-z0-9_-]+")
_STATUS = re.compile(r"[A-Za-z0-9_]+")
# The longest each field may be, from the columns that keep them.
_MAX_PROVIDER_ID = 100
_MAX_STATUS = 32
_MAX_FAILURE_REASON = 64
_MAX_NETWORK_CODE = 16
_MAX_RETRY_COUNT = 8


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """One delivery report as AT posted it, checked; without the phone number."""

    provider_id: str
    status: str
    failure_reason: str | None
    network_code: str | None
    retry_count: str | None


def dedupe_key(provider_id: str, status: str) -> str:
    """The Redis key that lets one report through once, however often AT posts it."""
    return f"sg:dlr:{provider_id}:{status}"


def parse_delivery_report(form: Mapping[str, str]) -> DeliveryReport:
    """Check AT's form; raise ``BadRequest`` (a 400 JSON answer) naming the first problem."""
    provider_id = _required(form, "id", _MAX_PROVIDER_ID, _PROVIDER_ID)
    status = _required(form, "status", _MAX_STATUS, _STATUS)
    return DeliveryReport(
        provider_id=provider_id,
        status=status,
        failure_reason=_optional(form, "failureReason", _MAX_FAILURE_REASON),
        network_code=_optional(form, "networkCode", _MAX_NETWORK_CODE),
        retry_count=_optional(form, "retryCount", _MAX_RETRY_COUNT),
    )


def _required(form: Mapping[str, str], name: str, max_length: int, pattern: re.Pattern[str]) -> str:
    value = form.get(name, "").strip()
    if not value:
        raise BadRequest(f"missing {name}")
    if len(value) > max_length:
        raise BadRequest(f"{name} is longer than {max_length} characters")
    if not pattern.fullmatch(value):
        # The value is not echoed: anyone who can reach the URL can post anything.
        raise BadRequest(f"{name} holds characters AT does not use")
    return value


def _optional(form: Mapping[str, str], name: str, max_length: int) -> str | None:
    value = form.get(name, "").strip()
    if not value:
        return None
    if len(value) > max_length:
        raise BadRequest(f"{name} is longer than {max_length} characters")
    if not value.isprintable():
        # It is stored and logged: a newline could forge a log line.
        raise BadRequest(f"{name} holds control characters")
    return value


@bp.post("/sms/delivery")
def sms_delivery() -> Response:
    """One AT delivery report: checked, de-duplicated and queued; answered "OK"."""
    rt = runtime()
    report = parse_delivery_report(request.form)
    key = dedupe_key(report.provider_id, report.status)
    mark = take(rt.redis, key)
    if mark is Take.SEEN:
        log.info("delivery report %s for %s seen before", report.status, report.provider_id)
        return Response("OK", status=200, mimetype="text/plain")
    if mark is Take.BUSY:
        return retry_later()
    try:
        rt.jobs.record_delivery(
            report.provider_id,
            report.status,
            report.failure_reason,
            report.network_code,
            rt.services.now().isoformat(),
        )
    except BaseException:
        # Not queued: forget the report, so AT's retry of it (after our 503) gets through.
        not_taken(rt.redis, key)
        raise
    taken(rt.redis, key, DEDUPE_TTL_S)
    log.info(
        "delivery report %s for %s queued (retry %s)",
        report.status,
        report.provider_id,
        report.retry_count or "0",
    )
    return Response("OK", status=200, mimetype="text/plain")
