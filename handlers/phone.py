"""Phone numbers are normalised once, here at the edge; everything inside sees E.164."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE


# Every USSD step of a session carries the same number, and parsing it is a tenth of a step's
# own work: the last numbers seen are kept, in this process's memory only.
@lru_cache(maxsize=1024)
def normalise_phone(raw: str, default_region: str) -> str | None:
    """The E.164 form of ``raw`` (``+22376123456``), or None when it is not a possible number."""
    candidate = raw.strip()
    if not candidate or len(candidate) > 32:
        return None
    try:
        number = phonenumbers.parse(candidate, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(e164: str) -> str:
    """Hide the middle of a phone number for logs: "+22376123456" -> "+22376****56"."""
    plus = "+" if e164.startswith("+") else ""
    digits = e164.removeprefix("+")
    if not digits.isdigit():
        return "****"
    head = _country_code_length(digits) + 2 if plus else 0
    if len(digits) - head - 2 < 4:
        # Too short to hide enough of the middle: show only the last two digits.
        head = 0
    return plus + digits[:head] + "*" * (len(digits) - head - 2) + digits[-2:]


def _country_code_length(digits: str) -> int:
    """Length of the calling code that starts ``digits``; 0 when none matches."""
    # Calling codes are prefix-free, so the first match is the only one.
    for length in (1, 2, 3):
        if int(digits[:length]) in COUNTRY_CODE_TO_REGION_CODE:
            return length
    return 0
