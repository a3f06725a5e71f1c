"""Simulator numbers: the fictional numbers the phone simulator acts as, never a household's.

The North American Numbering Plan reserves 555-0100 to 555-0199 for fiction in every area code
(NANPA): no subscriber anywhere is ever given one, and AT never posts one. phonenumbers accepts
them as valid numbers, so the gateway handles them like any other (the ranges other regulators
reserve for drama, such as Ofcom's 07700 900xxx, phonenumbers refuses as invalid; Mali has
none). That gives some 45,000 numbers; each simulator page gets one at random, bound to the
signed-in person's session, and the simulator's doors refuse every other number.

Opening a phone is audited by the pseudonym (the answers made on it carry the same one), never
by the number.
"""

from __future__ import annotations

import functools
import re
import secrets

import phonenumbers

from gateway.audit import audit
from gateway.auth import Actor
from gateway.runtime import Runtime

# +1, an area code, then 555-01xx.
_FICTION = re.compile(r"\+1([2-9]\d\d)55501(\d\d)")
# Tries at a free number before taking a held one: two people holding the same phone only
# share a fictional household's answers, so a crowded pool must not stop a training.
_DRAWS = 20
_HELD_KEY = "sg:simulator:held:{pseudonym}"
AUDIT_ACTION = "simulator.open"


@functools.cache
def _area_codes() -> tuple[str, ...]:
    """The area codes in which phonenumbers accepts the fiction exchange as a valid number."""
    return tuple(
        str(code)
        for code in range(200, 1000)
        if phonenumbers.is_valid_number(phonenumbers.parse(f"+1{code}5550100"))
    )


def is_simulator_number(e164: str) -> bool:
    """True when ``e164`` is a simulator number: fictional, valid, never a subscriber's."""
    found = _FICTION.fullmatch(e164)
    return found is not None and found.group(1) in _area_codes()


def draw_simulator_number() -> str:
    """A simulator number at random, in E.164."""
    code = secrets.choice(_area_codes())
    return f"+1{code}55501{secrets.randbelow(100):02d}"


def open_simulator_phone(rt: Runtime, actor: Actor, hold_s: int) -> str:
    """Hand ``actor`` a simulator number of their own for ``hold_s`` seconds; audited.

    The number is held in Redis so that two people training at once get two phones; the hold
    is live state only (a lost one risks a shared fictional phone, nothing more).
    """
    number = draw_simulator_number()
    pseudonym = rt.services.pseudonymise(number)
    for _ in range(_DRAWS):
        key = _HELD_KEY.format(pseudonym=pseudonym)
        if rt.redis.set(key, str(actor), nx=True, ex=hold_s):
            break
        number = draw_simulator_number()
        pseudonym = rt.services.pseudonymise(number)
    with rt.sessions.begin() as session:
        audit(session, actor, AUDIT_ACTION, "respondent", pseudonym, "simulator phone")
    return number
