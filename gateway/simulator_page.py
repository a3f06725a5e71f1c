"""``/simulator``: a phone in the browser, for managers (and anyone in development).

The page draws a handset; ``static/simulator.js`` posts to ``/ussd`` and ``/sms/inbound``
exactly as Africa's Talking does, and reads the replies to an SMS from
``GET /simulator/messages``, which gives the outbox messages to one number: bodies and times,
the number masked.

When the callbacks need the webhook token (``GATEWAY_WEBHOOK_TOKEN``, always in production),
the page must not hand that secret to browsers. It posts instead to ``/simulator/ussd`` and
``/simulator/sms``, which check the session (a manager, CSRF token included) and then run the
very same callback views: only the way in differs, not what the gateway does with the form.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from flask import abort, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from gateway import sms_webhooks, webhooks
from gateway.dashboard import current_user, is_development, runtime, staff_blueprint
from gateway.models import Message
from gateway.runtime import Runtime
from gateway.simulator import SIMULATOR_NETWORK, SIMULATOR_PHONE, SIMULATOR_SHORTCODE
from gateway.staff_models import Role
from handlers.phone import mask_phone, normalise_phone

# Messages per answer: a poll on a slow link brings little; the page asks again.
MAX_MESSAGES = 20

bp = staff_blueprint("simulator", __name__, "/simulator")


@dataclass(frozen=True, slots=True)
class Inbox:
    """The messages to one number after a moment, oldest first; the number masked."""

    phone_masked: str
    messages: list[dict[str, str]]


def inbox(rt: Runtime, phone: str, after: datetime | None) -> Inbox:
    """The outbox messages to ``phone`` (E.164) made after ``after`` (the latest few if None)."""
    respondent = rt.services.pseudonymise(phone)
    stmt = select(Message.id, Message.created_at, Message.body).where(
        Message.respondent_id == respondent
    )
    if after is None:
        stmt = stmt.order_by(Message.created_at.desc(), Message.id.desc()).limit(MAX_MESSAGES)
    else:
        stmt = stmt.where(Message.created_at > after)
        stmt = stmt.order_by(Message.created_at, Message.id).limit(MAX_MESSAGES)
    with rt.sessions() as session:
        rows = list(session.execute(stmt))
    if after is None:
        rows.reverse()
    messages = [
        # Microseconds kept: the time is the next poll's "after", and replies come close together.
        {"id": row.id, "at": row.created_at.astimezone(UTC).isoformat(), "body": row.body}
        for row in rows
    ]
    return Inbox(phone_masked=mask_phone(phone), messages=messages)


def _open_to_all() -> bool:
    # In development the simulator is how people try the gateway: no account needed.
    return is_development()


def _allowed() -> ResponseReturnValue | None:
    """None when the simulator page may be shown, else the response that refuses it."""
    if _open_to_all():
        return None
    staff = current_user()
    if staff is None:
        return redirect(url_for("dashboard.login", next=request.full_path.rstrip("?")))
    if not staff.may(Role.MANAGER):
        abort(403)
    return None


def _refused_json() -> ResponseReturnValue | None:
    """None when the simulator's requests may be served, else a JSON 403 (they come from JS)."""
    if _open_to_all():
        return None
    staff = current_user()
    if staff is None or not staff.may(Role.MANAGER):
        return jsonify(error="Forbidden", message="the simulator is for managers"), 403
    return None


@bp.get("", strict_slashes=False)
def page() -> ResponseReturnValue:
    """The phone."""
    refused = _allowed()
    if refused is not None:
        return refused
    settings = runtime().settings
    # Straight to the AT callbacks when they are open; through the guarded doors otherwise.
    direct = not settings.webhook_token
    return render_template(
        "dashboard/simulator.html",
        ussd_url=url_for("webhooks.ussd" if direct else "simulator.ussd"),
        sms_url=url_for("sms.inbound" if direct else "simulator.sms"),
        service_code=settings.ussd_code,
        shortcode=settings.at_shortcode or SIMULATOR_SHORTCODE,
        network=SIMULATOR_NETWORK,
        phone=SIMULATOR_PHONE,
    )


@bp.get("/messages")
def messages() -> ResponseReturnValue:
    """JSON: the messages sent to ``phone`` after ``after`` (an ISO time), for the SMS screen."""
    refused = _refused_json()
    if refused is not None:
        return refused
    rt = runtime()
    phone = normalise_phone(request.args.get("phone", "")[:32], rt.settings.phone_region)
    if phone is None:
        return jsonify(error="Bad Request", message="phone is not a phone number"), 400
    after_text = request.args.get("after", "")[:40]
    try:
        after = datetime.fromisoformat(after_text) if after_text else None
    except ValueError:
        return jsonify(error="Bad Request", message="after is not an ISO 8601 time"), 400
    if after is not None and after.tzinfo is None:
        after = after.replace(tzinfo=UTC)
    found = inbox(rt, phone, after)
    return jsonify(phone=found.phone_masked, messages=found.messages)


@bp.post("/ussd")
def ussd() -> ResponseReturnValue:
    """A USSD step from the simulator, handled by the AT callback's own view."""
    return _refused_json() or webhooks.ussd()


@bp.post("/sms")
def sms() -> ResponseReturnValue:
    """An SMS from the simulator, handled by the AT callback's own view."""
    return _refused_json() or sms_webhooks.inbound()
