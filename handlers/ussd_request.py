"""AT's USSD callback, read: one step's fields checked and normalised, and the new input of a
step found in the session's text so far (see ``handlers.ussd``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from handlers.phone import normalise_phone
from handlers.screens import end
from handlers.typed_text import without_controls

MAX_TEXT = 2000
"""Longest ``text`` accepted: a whole survey typed on a handset is far shorter."""

UNAVAILABLE = {
    "fr": "Service momentanement indisponible. Merci de reessayer plus tard.",
    "en": "Service temporarily unavailable. Please try again later.",
}
BAD_NUMBER = "Numero de telephone non reconnu. / Phone number not recognised."


@dataclass(frozen=True, slots=True)
class UssdRequest:
    """One AT USSD callback, parsed and normalised."""

    session_id: str
    service_code: str
    phone: str
    network_code: str
    text: str


@dataclass(frozen=True, slots=True)
class BadUssdRequest:
    """A callback that cannot be served; ``screen`` is what the caller sees."""

    problem: str
    screen: str


def parse_ussd(form: Mapping[str, str], default_region: str) -> UssdRequest | BadUssdRequest:
    """Check and normalise AT's form fields."""
    missing = [name for name in ("sessionId", "phoneNumber") if not form.get(name, "").strip()]
    if missing:
        return BadUssdRequest(f"missing field(s): {', '.join(missing)}", end(UNAVAILABLE["fr"]))
    session_id = form["sessionId"].strip()
    text = form.get("text", "")
    if len(session_id) > 128 or len(text) > MAX_TEXT:
        return BadUssdRequest("field too long", end(UNAVAILABLE["fr"]))
    phone = normalise_phone(form["phoneNumber"], default_region)
    if phone is None:
        return BadUssdRequest("phoneNumber is not a phone number", end(BAD_NUMBER))
    return UssdRequest(
        session_id=session_id,
        service_code=form.get("serviceCode", "")[:32],
        phone=phone,
        network_code=form.get("networkCode", "")[:16],
        # Cleaned the same way on every request of a session, so each text still extends the
        # previous one.
        text=without_controls(text),
    )


def new_input(previous: str, text: str) -> str | None:
    """What ``text`` adds to ``previous`` (None when it does not extend it)."""
    if previous == "":
        return text
    if text.startswith(previous + "*"):
        return text[len(previous) + 1 :]
    return None


def masked(text: str, hidden: tuple[int, int] | None) -> str:
    """``text`` with the ``hidden`` span (a typed phone number) replaced by ``#``, same length."""
    if hidden is None:
        return text
    start, stop = hidden
    # Same length, so what AT adds later is still found at the same place.
    return text[:start] + "#" * max(0, min(stop, len(text)) - start) + text[stop:]
