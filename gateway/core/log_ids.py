"""The ids that tie log lines together: a web request's, a job's.

Held in context variables, so each thread (a gunicorn worker's request, an RQ job) sees its
own; a logging filter copies them onto every record, where the JSON format writes them as the
fields ``request_id`` and ``job_id``.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
_JOB_ID: ContextVar[str | None] = ContextVar("job_id", default=None)
# What a proxy's request id may be to be kept (nginx's $request_id is 32 hex digits; others use
# UUIDs): short, and nothing that could forge a log field or a header.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")


def request_id_from(header: str | None) -> str:
    """The incoming ``X-Request-Id`` if it is safe to keep, else a new random id."""
    if header is not None and _SAFE_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


@contextmanager
def bound_job_id(job_id: str) -> Iterator[None]:
    """Every record logged inside carries ``job_id``."""
    token = _JOB_ID.set(job_id)
    try:
        yield
    finally:
        _JOB_ID.reset(token)


def bind_request_id(request_id: str | None) -> None:
    """Every record logged from now on in this context carries ``request_id`` (None: none)."""
    _REQUEST_ID.set(request_id)


class LogIdsFilter(logging.Filter):
    """Adds ``request_id`` and ``job_id`` to a record when they are set."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, variable in (("request_id", _REQUEST_ID), ("job_id", _JOB_ID)):
            value = variable.get()
            if value is not None and not hasattr(record, name):
                setattr(record, name, value)
        return True
