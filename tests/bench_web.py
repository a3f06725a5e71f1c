"""Rows 1 and 2 of ``make bench``: USSD steps against a bare Flask endpoint, under wrk.

The gateway runs as ``make run`` starts it (``survey-gateway run``: gunicorn with the
configured sync workers, an RQ worker, embedded Redis, SQLite) and the bare endpoint of
``tests.bench_bare`` runs beside it under the same gunicorn options. Both get the same
handsets from the same wrk script, one after the other:

1. saturation: 16 handsets back to back; requests per second of each, and their ratio;
2. field load: 200 handsets pausing about a second before each screen, as people do (about
   185 requests a second offered); the 50th and 99th percentile of a screen's time.

The field load comes first, and each gateway run starts once its worker has stored what the
previous one left, so neither inherits the other's backlog.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from gateway.core.settings import Settings
from tests.bench_processes import BareEndpoint, Gateway
from tests.bench_rows import Row
from tests.bench_wrk import Load, WrkResult, drive

RATIO_GOAL = 0.5
P99_GOAL_MS = 20.0
SATURATION_HANDSETS = 16
FIELD_HANDSETS = 200
# 200 handsets, each with a screen every ~1.08 s: about 185 requests a second offered.
THINK_MS = 1080
# Phone numbers used by each run against the gateway: apart, so no household answers twice.
WARM_UP_NUMBERS, ALONE_NUMBERS = 0, 500_000
FIELD_NUMBERS, SATURATION_NUMBERS = 1_000_000, 3_000_000
QUIET_POLL_S = 1.0
QUIET_FOR_S = 3.0
QUIET_AT_MOST_S = 120.0


@dataclass(frozen=True)
class WebSizes:
    """How long each wrk run lasts."""

    warm_up_s: float
    saturation_s: float
    field_s: float


@dataclass(frozen=True)
class WebFigures:
    """What wrk saw for the gateway and for the bare endpoint."""

    saturation: WrkResult
    saturation_bare: WrkResult
    field: WrkResult
    field_bare: WrkResult


def measure(sizes: WebSizes) -> WebFigures:
    """Start the gateway and the bare endpoint, drive both, stop both."""
    gateway = Gateway("web")
    bare: BareEndpoint | None = None
    try:
        gateway.start("run")
        gateway.wait_healthy()
        bare = BareEndpoint(workers=Settings.from_env(gateway.env()).web_workers)
        bare.start()
        return _drive_both(gateway, bare, sizes)
    finally:
        if bare is not None:
            bare.stop()
        gateway.stop()


def _drive_both(gateway: Gateway, bare: BareEndpoint, sizes: WebSizes) -> WebFigures:
    # First requests load flows and open connections in each gunicorn worker: not measured.
    warm_up = Load(handsets=4, seconds=sizes.warm_up_s, first_number=WARM_UP_NUMBERS)
    drive(bare.base_url, warm_up)
    drive(gateway.base_url, warm_up)
    # One handset alone: a step's own cost, with nothing queued ahead of it.
    alone = Load(handsets=1, seconds=sizes.warm_up_s, first_number=ALONE_NUMBERS)
    wait_quiet(gateway)
    print_run("one handset alone, bare endpoint", drive(bare.base_url, alone))
    print_run("one handset alone, gateway", drive(gateway.base_url, alone))
    field = Load(FIELD_HANDSETS, sizes.field_s, THINK_MS, numbers_per_handset=10_000)
    wait_quiet(gateway)
    field_bare = drive(bare.base_url, field)
    print_run("field load, bare endpoint", field_bare)
    field_gateway = drive(gateway.base_url, _numbered(field, FIELD_NUMBERS))
    print_run("field load, gateway", field_gateway)
    saturation = Load(SATURATION_HANDSETS, sizes.saturation_s, numbers_per_handset=60_000)
    wait_quiet(gateway)
    saturation_bare = drive(bare.base_url, saturation)
    print_run("saturation, bare endpoint", saturation_bare)
    saturation_gateway = drive(gateway.base_url, _numbered(saturation, SATURATION_NUMBERS))
    print_run("saturation, gateway", saturation_gateway)
    return WebFigures(saturation_gateway, saturation_bare, field_gateway, field_bare)


def _numbered(load: Load, first: int) -> Load:
    return replace(load, first_number=first)


def wait_quiet(gateway: Gateway) -> None:
    """Wait until the worker has stored what earlier runs left (the answers stop growing)."""
    deadline = time.monotonic() + QUIET_AT_MOST_S
    last, still_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        stored = gateway.answers_stored()
        if stored != last:
            last, still_since = stored, time.monotonic()
        elif time.monotonic() - still_since >= QUIET_FOR_S:
            return
        time.sleep(QUIET_POLL_S)
    print(f"  (the gateway's worker was still storing answers after {QUIET_AT_MOST_S:.0f} s)")


def print_run(what: str, result: WrkResult) -> None:
    """One line per wrk run, and its errors if any."""
    print(
        f"  {what}: {result.requests} screens in {result.seconds:.1f} s "
        f"({result.rate:.0f}/s), {result.completed} surveys completed; "
        f"p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms, max {result.max_ms:.0f} ms",
        flush=True,
    )
    if result.errors:
        print(f"    ERRORS: {result.error_text()}", flush=True)


def rows(figures: WebFigures) -> list[Row]:
    """Rows 1 and 2; a run with errors misses its goal whatever its speed."""
    gateway, bare = figures.saturation, figures.saturation_bare
    ratio = gateway.rate / bare.rate if bare.rate else 0.0
    saturation = Row(
        f"USSD steps/s at saturation ({SATURATION_HANDSETS} handsets) vs bare endpoint",
        f"{gateway.rate:,.0f} vs {bare.rate:,.0f} req/s: {ratio:.2f}x"
        + _errors_note(gateway, bare),
        f">= {RATIO_GOAL}x",
        ratio >= RATIO_GOAL and not gateway.errors and not bare.errors,
    )
    field, field_bare = figures.field, figures.field_bare
    latency = Row(
        f"screen latency p99, {FIELD_HANDSETS} handsets pausing ~1 s ({field.rate:.0f} req/s)",
        f"{field.p99_ms:.1f} ms (p50 {field.p50_ms:.1f} ms; bare p99 {field_bare.p99_ms:.1f} ms)"
        + _errors_note(field, field_bare),
        f"<= {P99_GOAL_MS:g} ms",
        field.p99_ms <= P99_GOAL_MS and not field.errors and not field_bare.errors,
    )
    return [saturation, latency]


def _errors_note(gateway: WrkResult, bare: WrkResult) -> str:
    count = gateway.errors + bare.errors
    return f" ({count} errors)" if count else ""
