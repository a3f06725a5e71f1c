"""``/simulator``: a phone in the browser, for managers and up, in every environment.

The page draws a handset; ``static/simulator.js`` posts what Africa's Talking would post to
``/simulator/ussd`` and ``/simulator/sms``, which check the session (a manager, CSRF token
included) and the number, then run the very same callback views as ``/ussd`` and
``/sms/inbound``: only the way in differs, not what the gateway does with the form. Replies to
an SMS are read from ``GET /simulator/messages``: bodies and times, the number masked.

The phone only ever acts as its simulator number (``gateway.surveys.simulator_numbers``): a
fictional
number handed out to this session when the page opens, or anew by ``POST /simulator/phone``.
Every door refuses any other number, so nobody can answer, STOP or erase as a real household
from here. While the session previews a draft flow (``gateway.web.simulator_preview``), the
doors run that draft instead, and nothing of it is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from flask import abort, jsonify, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from gateway.core.runtime import Runtime
from gateway.messaging.models import Message
from gateway.staff.actors import Actor
from gateway.staff.audit import audit
from gateway.staff.models import Role
from gateway.surveys.simulator_numbers import (
    SIMULATOR_NETWORK,
    SIMULATOR_SHORTCODE,
    draw_simulator_number,
    is_simulator_number,
)
from gateway.web.dashboard.base import SESSION_LIFETIME, Staff, current_user, staff_blueprint
from gateway.web.runtime import runtime
from gateway.web.simulator_preview import (
    active_preview,
    end_preview,
    preview_messages,
    preview_sms,
    preview_ussd,
)
from gateway.web.webhooks import sms as sms_webhooks
from gateway.web.webhooks import ussd as webhooks
from handlers.phone import mask_phone, normalise_phone

# Messages per answer: a poll on a slow link brings little; the page asks again.
MAX_MESSAGES = 20

SESSION_PHONE = "sim_phone"
AUDIT_ACTION = "simulator.open"
# Tries at a free number before taking a held one: two people holding the same phone only
# share a fictional household's answers, so a crowded pool must not stop a training.
_DRAWS = 20
_HELD_KEY = "sg:simulator:held:{pseudonym}"

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


def open_simulator_phone(rt: Runtime, actor: Actor, hold_s: int) -> str:
    """Hand ``actor`` a simulator number of their own for ``hold_s`` seconds; audited.

    The number is held in Redis so that two people training at once get two phones; the hold
    is live state only (a lost one risks a shared fictional phone, nothing more). The audit
    row names the phone by its pseudonym, as its answers are stored, never by its number.
    """
    number = draw_simulator_number()
    pseudonym = rt.services.pseudonymise(number)
    for _ in range(_DRAWS):
        if rt.redis.set(_HELD_KEY.format(pseudonym=pseudonym), str(actor), nx=True, ex=hold_s):
            break
        number = draw_simulator_number()
        pseudonym = rt.services.pseudonymise(number)
    with rt.sessions.begin() as db:
        audit(db, actor, AUDIT_ACTION, "respondent", pseudonym, "simulator phone")
    return number


def _allowed() -> Staff | ResponseReturnValue:
    """The signed-in manager (or above), else the response that refuses the page."""
    staff = current_user()
    if staff is None:
        return redirect(url_for("dashboard.login", next=request.full_path.rstrip("?")))
    if not staff.may(Role.MANAGER):
        abort(403)
    return staff


def _refused(status: int, message: str) -> ResponseReturnValue:
    """A JSON refusal: the simulator's requests come from its script, not from a person."""
    names = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 409: "Conflict"}
    return jsonify(error=names[status], message=message), status


def _refused_json() -> ResponseReturnValue | None:
    """None when the simulator's requests may be served, else a JSON 401 or 403."""
    staff = current_user()
    if staff is None:
        return _refused(401, "sign in as a manager to use the simulator")
    if not staff.may(Role.MANAGER):
        return _refused(403, "the simulator is for managers")
    return None


def _session_phone() -> str | None:
    """This session's simulator number, if it has one."""
    phone = session.get(SESSION_PHONE)
    # Checked again on the way out: a session from before a change of ranges holds no phone.
    return phone if isinstance(phone, str) and is_simulator_number(phone) else None


def _new_phone(staff: Staff) -> str:
    """Hand this session a simulator number of its own (audited) and remember it."""
    hold_s = int(SESSION_LIFETIME.total_seconds())
    phone = open_simulator_phone(runtime(), staff.actor, hold_s)
    session[SESSION_PHONE] = phone
    return phone


def _own_number(raw: str) -> ResponseReturnValue | None:
    """None when ``raw`` is this session's simulator number, else the JSON refusal."""
    refused = _refused_json()
    if refused is not None:
        return refused
    mine = _session_phone()
    if mine is None:
        return _refused(409, "no simulator phone is open: open the simulator page first")
    phone = normalise_phone(raw[:32], runtime().settings.phone_region)
    if phone is None:
        return _refused(400, "the number is not a phone number")
    if phone != mine:
        # Never another number: a real household's answers must not be made or erased here.
        return _refused(403, "the simulator only acts as its own simulator number")
    return None


@bp.get("", strict_slashes=False)
def page() -> ResponseReturnValue:
    """The phone, with this session's simulator number (a new one on the first visit)."""
    staff = _allowed()
    if not isinstance(staff, Staff):
        return staff
    phone = _session_phone() or _new_phone(staff)
    settings = runtime().settings
    return render_template(
        "dashboard/simulator.html",
        ussd_url=url_for("simulator.ussd"),
        sms_url=url_for("simulator.sms"),
        service_code=settings.ussd_code,
        shortcode=settings.at_shortcode or SIMULATOR_SHORTCODE,
        network=SIMULATOR_NETWORK,
        phone=phone,
        preview=active_preview(phone),
    )


@bp.post("/preview/end")
def stop_preview() -> ResponseReturnValue:
    """Back to the published flows, after trying a draft."""
    staff = _allowed()
    if not isinstance(staff, Staff):
        return staff
    end_preview()
    return redirect(url_for("simulator.page"))


@bp.post("/phone")
def new_phone() -> ResponseReturnValue:
    """Another simulator number for this session: a new household, with no answers yet."""
    staff = _allowed()
    if not isinstance(staff, Staff):
        return staff
    _new_phone(staff)
    return redirect(url_for("simulator.page"))


@bp.get("/messages")
def messages() -> ResponseReturnValue:
    """JSON: the messages sent to this session's simulator number after ``after`` (ISO time)."""
    mine = _session_phone()
    refused = _own_number(request.args.get("phone") or mine or "")
    if refused is not None or mine is None:
        # _own_number has refused a session without a phone: mine is None only with a refusal.
        return refused or _refused(409, "no simulator phone is open")
    after_text = request.args.get("after", "")[:40]
    try:
        after = datetime.fromisoformat(after_text) if after_text else None
    except ValueError:
        return _refused(400, "after is not an ISO 8601 time")
    if after is not None and after.tzinfo is None:
        after = after.replace(tzinfo=UTC)
    preview = active_preview(mine)
    if preview is not None:
        return preview_messages(preview, mine, after)
    found = inbox(runtime(), mine, after)
    return jsonify(phone=found.phone_masked, messages=found.messages)


@bp.post("/ussd")
def ussd() -> ResponseReturnValue:
    """A USSD step from the simulator's number, handled by the AT callback's own view."""
    refused = _own_number(request.form.get("phoneNumber", ""))
    if refused is not None:
        return refused
    preview = active_preview(_session_phone() or "")
    return preview_ussd(preview) if preview is not None else webhooks.ussd()


@bp.post("/sms")
def sms() -> ResponseReturnValue:
    """An SMS from the simulator's number, handled by the AT callback's own view."""
    refused = _own_number(request.form.get("from", ""))
    if refused is not None:
        return refused
    preview = active_preview(_session_phone() or "")
    return preview_sms(preview) if preview is not None else sms_webhooks.inbound()
