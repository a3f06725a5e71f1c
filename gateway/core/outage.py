"""Riding out an outage of Redis or the database: wait with backoff, say so once, go on.

A worker outlives a Redis restart or a database failover instead of exiting: whatever it was
doing waits, retrying with backoff (0.5 s doubling to 5 s), and carries on once the server
answers. Operators read one line when the outage starts and one when it ends, however many
commands, threads or connections waited in between.

- ``Outage`` is one dependency's outage as this process sees it, and says the two lines.
- ``WaitingRetry`` is a redis-py ``Retry`` that waits forever, reporting to an ``Outage``:
  every Redis command of a client built with it (RQ's included) waits out an outage.
- ``wait_for`` runs one database step (the migrations at start) until the database answers.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

log = logging.getLogger(__name__)

T = TypeVar("T")

FIRST_WAIT_S = 0.5
LONGEST_WAIT_S = 5.0
REDIS_OUTAGE_ERRORS = (redis.ConnectionError, redis.TimeoutError)


def backoff() -> ExponentialBackoff:
    """0.5 s after the first failure, doubling up to 5 s."""
    # redis-py's backoff computes base * 2**failures, and counts from one.
    return ExponentialBackoff(cap=LONGEST_WAIT_S, base=FIRST_WAIT_S / 2)


class Outage:
    """One dependency's outage as this process sees it: it logs when it starts and ends.

    Shared by every connection and thread of the process. A process forked from the one that
    built it (RQ's scheduler) waits just the same but stays quiet: the worker speaks for both.
    """

    def __init__(self, what: str, where: str) -> None:
        self.what = what
        self.where = where
        self.recoveries = 0
        self.giving_up = False
        self._since: float | None = None
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def failed(self) -> None:
        """A call failed for want of the server: the outage starts, unless it already has."""
        with self._lock:
            if self._since is not None:
                return
            self._since = time.monotonic()
        self._say("%s unreachable at %s: waiting", self.what, self.where)

    def answered(self) -> None:
        """A call went through: an outage, if there was one, is over."""
        if self._since is None:
            return
        with self._lock:
            if self._since is None:
                return
            lasted = time.monotonic() - self._since
            self._since = None
            self.recoveries += 1
        self._say("%s is back after %.0f s", self.what, lasted)

    def stop_waiting(self) -> None:
        """From now on a failed call fails at once: the process is leaving."""
        self.giving_up = True

    def _say(self, message: str, *args: object) -> None:
        level = logging.WARNING if os.getpid() == self._pid else logging.DEBUG
        log.log(level, message, *args)


class WaitingRetry(Retry):
    """A redis-py retry policy that waits out an outage, however long, with backoff."""

    def __init__(self, outage: Outage) -> None:
        super().__init__(backoff(), retries=-1)
        self.outage = outage

    def __deepcopy__(self, _memo: dict[int, Any]) -> WaitingRetry:
        # redis-py copies the policy into each connection: they must share the one outage.
        return self

    def call_with_retry(
        self,
        do: Callable[[], T],
        fail: Callable[..., Any],
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> T:
        """Run ``do`` until the server answers; ``fail`` cleans up after each failure."""

        def failed(error: Exception, failures: int) -> None:
            if self.outage.giving_up:
                raise error
            self.outage.failed()
            if with_failure_count:
                fail(error, failures)
            else:
                fail(error)

        result = super().call_with_retry(do, failed, is_retryable, with_failure_count=True)
        self.outage.answered()
        return result


def waiting_client(url: str, outage: Outage) -> redis.Redis:
    """A Redis client whose every command waits out an outage of the server at ``url``."""
    return redis.Redis.from_url(url, retry=WaitingRetry(outage))


def is_database_outage(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot be reached (not that a query is wrong)."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def wait_for(outage: Outage, attempt: Callable[[], T]) -> T:
    """Call ``attempt`` until the database answers, waiting with backoff in between."""
    waits = backoff()
    failures = 0
    while True:
        try:
            result = attempt()
        except Exception as exc:
            if not is_database_outage(exc) or outage.giving_up:
                raise
            outage.failed()
            failures += 1
            time.sleep(waits.compute(failures))
            continue
        outage.answered()
        return result
