"""``GET /metrics``: the gateway's figures for Prometheus, for ``GATEWAY_METRICS_TOKEN`` or an
admin's API token (``Authorization: Bearer ...``). The metrics token is checked without Redis
or the database, so the figures still come, saying which is down, when one is.

Most figures are read when Prometheus asks (each scrape): SMS by status and their cost per
currency, campaigns by status, the queue's depth and the age of its oldest job, failed jobs,
how long ago the retention purge last ran, whether Redis and the database answer. They come
from Redis and the database, so any web node gives the same answer and nothing is lost when a
process restarts.

USSD steps and their latency are counted as they happen, in the process that serves them.
Under gunicorn each worker process counts its own: ``serve`` points
``PROMETHEUS_MULTIPROC_DIR`` at a folder of its own, where prometheus-client sums the workers'
counts at each scrape. This module is imported by ``create_app`` only, in the workers, after
that variable is set. Scrape every web node: each reports the steps it served.
"""

from __future__ import annotations

import hmac
import os
import re
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from flask import Blueprint, Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from rq.registry import FailedJobRegistry
from sqlalchemy import func, select

from gateway.campaigns.models import Campaign, CampaignStatus
from gateway.core.db import ping
from gateway.core.runtime import Runtime
from gateway.messaging.models import Message, MessageStatus
from gateway.staff.models import AuditEvent, Role
from gateway.web.auth import authenticate
from gateway.web.runtime import runtime

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
# AT waits a few seconds for a USSD screen; the buckets resolve the part that matters.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# What AT reports an SMS cost ("XOF 25.0000"); a refused number's "0" has no currency.
_COST = re.compile(r"([A-Z]{3})\s+(\d+(?:\.\d+)?)")
# The audit action of a retention purge, nightly (workers) or typed (survey-gateway purge).
PURGE_ACTION = "purge"

# Their own registry: a scrape reads them (one process) or their files (gunicorn's workers).
_LIVE = CollectorRegistry(auto_describe=True)
USSD_STEPS = Counter(
    "gateway_ussd_steps",
    "USSD steps answered, by HTTP status",
    ["status"],
    registry=_LIVE,
)
USSD_LATENCY = Histogram(
    "gateway_ussd_step_seconds",
    "Time to answer a USSD step, from the request reaching the app to its screen",
    buckets=LATENCY_BUCKETS,
    registry=_LIVE,
)

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics() -> Response:
    """The figures in Prometheus' text format; 401/403 without an admin's API token."""
    _authorise()
    scrape = CollectorRegistry(auto_describe=True)
    scrape.register(_ScrapeTime(runtime()))
    body = generate_latest(scrape)
    if os.environ.get(MULTIPROCESS_ENV):
        counted = CollectorRegistry()
        multiprocess.MultiProcessCollector(counted)  # type: ignore[no-untyped-call]
        body += generate_latest(counted)
    else:
        body += generate_latest(_LIVE)
    return Response(body, mimetype=CONTENT_TYPE_LATEST)


def _authorise() -> None:
    expected = runtime().settings.metrics_token
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if (
        expected
        and scheme.lower() == "bearer"
        # Constant time: the comparison must not tell a guesser how much of it was right.
        and hmac.compare_digest(given.strip().encode(), expected.encode())
    ):
        return
    authenticate(Role.ADMIN)


def install_metrics(app: Flask) -> None:
    """Serve /metrics and time every USSD step of ``app``."""
    app.register_blueprint(bp)

    @app.before_request
    def start_clock() -> None:
        if request.path.rstrip("/") == "/ussd":
            g.ussd_started = time.perf_counter()

    @app.after_request
    def count_step(response: Response) -> Response:
        started = g.get("ussd_started")
        if started is not None:
            USSD_LATENCY.observe(time.perf_counter() - started)
            USSD_STEPS.labels(status=str(response.status_code)).inc()
        return response


class _ScrapeTime(Collector):
    """The figures read from Redis and the database at each scrape."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self) -> Iterator[Metric]:
        figures: list[Metric] = []
        up = GaugeMetricFamily(
            "gateway_dependency_up", "1 when the dependency answers", labels=["dependency"]
        )
        up.add_metric(["redis"], self._redis_figures_into(figures))
        up.add_metric(["database"], self._database_figures_into(figures))
        yield up
        yield from figures

    def _redis_figures_into(self, out: list[Metric]) -> float:
        queue = self.rt.queue
        try:
            depth = queue.count
            failed = FailedJobRegistry(queue=queue).count
            oldest = queue.get_job_ids(0, 0)
            job = queue.fetch_job(oldest[0]) if oldest else None
        except Exception:  # any failure means Redis is not usable; the type matters not here
            return 0.0
        age = 0.0
        if job is not None and job.enqueued_at is not None:
            enqueued = job.enqueued_at
            if enqueued.tzinfo is None:
                enqueued = enqueued.replace(tzinfo=UTC)  # RQ stores UTC
            age = max(0.0, (datetime.now(UTC) - enqueued).total_seconds())
        out.append(_gauge("gateway_queue_jobs", "Jobs waiting in the queue", depth))
        out.append(
            _gauge(
                "gateway_queue_oldest_job_age_seconds",
                "How long the oldest waiting job has waited (0 when none waits)",
                age,
            )
        )
        out.append(_gauge("gateway_failed_jobs", "Jobs that failed for good (RQ)", failed))
        return 1.0

    def _database_figures_into(self, out: list[Metric]) -> float:
        try:
            ping(self.rt.engine)
            with self.rt.sessions() as session:
                messages = session.execute(
                    select(Message.status, func.count()).group_by(Message.status)
                ).all()
                campaigns = session.execute(
                    select(Campaign.status, func.count()).group_by(Campaign.status)
                ).all()
                # Grouped by the string: a deployment's costs take a handful of values.
                costs = session.execute(
                    select(Message.cost, func.count())
                    .where(Message.cost.is_not(None))
                    .group_by(Message.cost)
                ).all()
                last_purge = session.scalar(
                    select(func.max(AuditEvent.at)).where(AuditEvent.action == PURGE_ACTION)
                )
        except Exception:  # any failure means the database is not usable
            return 0.0
        out.append(_costs(costs))
        if last_purge is not None:
            # None yet: no series, rather than an age that would pass for a recent purge.
            out.append(
                _gauge(
                    "gateway_retention_purge_age_seconds",
                    "How long ago the last retention purge finished (nightly, by a worker)",
                    max(0.0, (datetime.now(UTC) - last_purge).total_seconds()),
                )
            )
        # Every status, 0 included: an alert on a rate needs the series to exist before.
        out.append(_by_status("gateway_sms", "Outbound SMS by status", MessageStatus, messages))
        out.append(
            _by_status(
                "gateway_campaigns",
                "Campaigns by status (running ones send)",
                CampaignStatus,
                campaigns,
            )
        )
        return 1.0


def _by_status(
    name: str, documentation: str, statuses: Iterable[StrEnum], counts: Iterable[Any]
) -> GaugeMetricFamily:
    found = {str(status): count for status, count in counts}
    family = GaugeMetricFamily(name, documentation, labels=["status"])
    for status in statuses:
        family.add_metric([str(status)], found.get(str(status), 0))
    return family


def _costs(counts: Iterable[Any]) -> GaugeMetricFamily:
    """What AT charged for the SMS stored in the outbox, summed per currency."""
    totals: dict[str, Decimal] = {}
    for cost, count in counts:
        found = _COST.fullmatch(str(cost).strip())
        if found is not None:
            currency, amount = found.groups()
            totals[currency] = totals.get(currency, Decimal(0)) + Decimal(amount) * count
    family = GaugeMetricFamily(
        "gateway_sms_cost", "What AT charged for outbound SMS, per currency", labels=["currency"]
    )
    for currency, total in sorted(totals.items()):
        family.add_metric([currency], float(total))
    return family


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
