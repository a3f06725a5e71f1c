"""Row 3 of ``make bench``: answers stored per second by one worker draining a backlog.

The web side runs alone (``survey-gateway serve``, which starts the embedded Redis) while
households answer the whole survey over HTTP, so what they answered waits in Redis with no
worker to store it. Then one ``survey-gateway worker`` starts, and the clock runs from the
moment it has registered with RQ (its start-up, migrations and recovery left out) until the
database holds every answer. However the gateway batches its writes, the figure is answers
in the database per second of that worker.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from gateway.core.db import upgrade
from tests.bench_processes import Gateway
from tests.bench_rows import Row
from tests.bench_wrk import ANSWERS, Load, WrkResult, drive

GOAL_PER_S = 1000.0
HANDSETS = 16
# wrk's -d: only an upper bound, each handset stops after its share of households.
ANSWERING_AT_MOST_S = 900
POLL_S = 0.25
REGISTERED_AT_MOST_S = 120.0
# RQ lists its live workers in this set (``rq.worker_registration``).
RQ_WORKERS_KEY = "rq:workers"


@dataclass(frozen=True)
class StorageFigures:
    households: WrkResult
    expected: int  # answers given: households that completed times questions answered
    stored_before: int  # in the database before the worker started: nothing should be
    stored: int
    start_up_s: float  # from the worker's start to its registration
    first_answer_s: float | None  # from registration to the first answers in the database
    draining_s: float  # from registration to the last answer in the database

    @property
    def rate(self) -> float:
        return (self.stored - self.stored_before) / self.draining_s if self.draining_s else 0.0


def measure(households: int) -> StorageFigures:
    """Build the backlog with the web side alone, then time one worker storing it."""
    gateway = Gateway("store")
    try:
        # `serve` does not migrate (the worker and `run` do): the database must exist first.
        gateway.var.mkdir(parents=True)
        upgrade(gateway.database_url)
        gateway.start("serve")
        gateway.wait_healthy()
        answered = _answer(gateway, households)
        expected = answered.completed * len(ANSWERS)
        return _drain(gateway, answered, expected)
    finally:
        gateway.stop()


def _answer(gateway: Gateway, households: int) -> WrkResult:
    surveys = math.ceil(households / HANDSETS)
    load = Load(HANDSETS, ANSWERING_AT_MOST_S, surveys=surveys)
    answered = drive(gateway.base_url, load)
    print(
        f"  {answered.completed} households answered the whole survey in "
        f"{answered.seconds:.1f} s with no worker running ({answered.rate:.0f} screens/s)",
        flush=True,
    )
    if answered.errors:
        print(f"    ERRORS: {answered.error_text()}", flush=True)
    return answered


def _drain(gateway: Gateway, answered: WrkResult, expected: int) -> StorageFigures:
    before = gateway.answers_stored()
    redis = gateway.redis()
    started = time.monotonic()
    worker = gateway.start("worker")
    while not redis.scard(RQ_WORKERS_KEY):
        if worker.poll() is not None or time.monotonic() - started > REGISTERED_AT_MOST_S:
            raise RuntimeError(f"the worker did not start:\n{gateway.log_tail()}")
        time.sleep(0.05)
    ready = time.monotonic()
    # Generous: a tenth of the goal still finishes.
    deadline = ready + max(120.0, expected / (GOAL_PER_S / 10))
    stored, first = before, None
    while stored < expected and time.monotonic() < deadline:
        time.sleep(POLL_S)
        stored = gateway.answers_stored()
        if first is None and stored > before:
            first = time.monotonic() - ready
    return StorageFigures(
        households=answered,
        expected=expected,
        stored_before=before,
        stored=stored,
        start_up_s=ready - started,
        first_answer_s=first,
        draining_s=time.monotonic() - ready,
    )


def rows(figures: StorageFigures) -> list[Row]:
    """Row 3: missed too when an answer is missing or was stored without a worker."""
    first = f"{figures.first_answer_s:.1f} s" if figures.first_answer_s is not None else "never"
    print(
        f"  worker registered {figures.start_up_s:.1f} s after its start; first answers stored "
        f"{first} later; {figures.stored} of {figures.expected} answers stored "
        f"{figures.draining_s:.1f} s after it registered ({figures.stored_before} before)",
        flush=True,
    )
    complete = figures.stored >= figures.expected and figures.stored_before == 0
    note = "" if complete else f" ({figures.stored} of {figures.expected} answers stored)"
    return [
        Row(
            f"answers stored per second by one worker ({figures.expected:,} answers waiting)",
            f"{figures.rate:,.0f} answers/s{note}",
            f">= {GOAL_PER_S:,.0f} answers/s",
            complete and figures.rate >= GOAL_PER_S and not figures.households.errors,
        )
    ]
