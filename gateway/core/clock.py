"""The time and fresh ids: the one clock and the one id maker every part of the gateway uses.

Times are timezone-aware UTC everywhere (the database columns refuse naive ones). Code that
must be tested at a chosen time takes a :class:`Clock` (the workers do) or a ``now`` argument.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Protocol


def utc_now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def new_id() -> str:
    """A fresh, unguessable random id (uuid4, 36 characters): rows, runs."""
    return str(uuid.uuid4())


class Clock(Protocol):
    """The time, and a way to let it pass."""

    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        """The current time in UTC."""
        return utc_now()

    def sleep(self, seconds: float) -> None:
        """Block this thread for ``seconds``."""
        time.sleep(seconds)
