"""Letting one AT callback through once, without losing it to a process that dies midway.

AT retries a callback it got no answer to. A key marks a callback as taken; it is first set
for a few seconds only, as "taking", and made to last only once the callback's work is queued.
A web process killed between the two leaves a mark that lapses by itself, so AT's retry after
it is handled; a retry that arrives while the first is still at work is answered 503, so AT
tries again later instead of having the callback dropped as seen.
"""

from __future__ import annotations

from enum import Enum

import redis
from flask import Response

from gateway.web.unavailable import at_retry_later

# Far longer than a callback's work takes (milliseconds: it only queues).
TAKING_FOR_S = 10
_TAKING = b"taking"


class Take(Enum):
    """What a callback's mark says."""

    NEW = "new"
    SEEN = "seen"
    BUSY = "busy"


def take(client: redis.Redis, key: str) -> Take:
    """Mark the callback ``key`` as being taken, if it was neither taken nor being taken."""
    if client.set(key, _TAKING, nx=True, ex=TAKING_FOR_S):
        return Take.NEW
    return Take.BUSY if client.get(key) == _TAKING else Take.SEEN


def taken(client: redis.Redis, key: str, keep_for_s: int) -> None:
    """The callback's work is queued: remember it as seen for ``keep_for_s``."""
    client.set(key, b"1", ex=keep_for_s)


def not_taken(client: redis.Redis, key: str) -> None:
    """The callback's work failed: forget it, so that AT's retry is handled."""
    client.delete(key)


def retry_later() -> Response:
    """AT's answer for a callback another request is still handling: try it again later."""
    return at_retry_later(TAKING_FOR_S)
