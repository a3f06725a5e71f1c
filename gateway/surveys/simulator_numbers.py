"""Simulator numbers: the fictional numbers the phone simulator acts as, never a household's.

The North American Numbering Plan reserves 555-0100 to 555-0199 for fiction in every area code
(NANPA): no subscriber anywhere is ever given one, and AT never posts one. phonenumbers accepts
them as valid numbers, so the gateway handles them like any other (the ranges other regulators
reserve for drama, such as Ofcom's 07700 900xxx, phonenumbers refuses as invalid; Mali has
none). That gives some 45,000 numbers; each simulator page gets one at random, bound to the
signed-in person's session (``gateway.web.simulator``), and the simulator's doors refuse every
other number. Messages to them never leave the machine (``gateway.messaging.sender``).
"""

from __future__ import annotations

import functools
import re
import secrets

import phonenumbers

# What the simulators (the web page and ``survey-gateway simulate``) post as AT would.
SIMULATOR_NETWORK = "61001"  # Orange Mali's mobile network code, as AT reports it
# The shortcode texted when no AT shortcode is configured.
SIMULATOR_SHORTCODE = "38412"

# +1, an area code, then 555-01xx.
_FICTION = re.compile(r"\+1([2-9]\d\d)55501(\d\d)")


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
