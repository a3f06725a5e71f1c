"""What the delivery-report worker tells an operator in its log, report by report.

A report that needs an operator's eye (a message that failed for good, or a status AT added
that we do not know) is a warning naming the message, the outcome and AT's reason; a report
on the way to delivery is an information line. No line carries the number.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from gateway.core.runtime import Runtime
from tests.messaging.test_delivery import PROVIDER_ID, Row, ok, report
from tests.messaging.test_delivery import sent as sent  # noqa: F401  (fixture)

DIGITS = "76123456"  # the household's number, as it could appear in a line


@pytest.mark.parametrize(
    ("at_status", "reason", "level", "line"),
    [
        ("Failed", "InsufficientCredit", logging.WARNING, " failed: InsufficientCredit"),
        ("Rejected", None, logging.WARNING, " rejected: no reason given"),
        ("Expired", "DeliveryFailure", logging.WARNING, " expired: DeliveryFailure"),
        ("Queued", None, logging.WARNING, ": AT status 'Queued' is unknown here; kept as is"),
        ("Success", None, logging.INFO, " delivered"),
        ("Sent", None, logging.INFO, " sent"),
        ("Buffered", "AbsentSubscriber", logging.INFO, " buffered"),
    ],
)
def test_each_applied_report_is_logged_at_the_level_an_operator_needs(
    client: FlaskClient,
    runtime: Runtime,
    run_jobs: Callable[..., int],
    sent: Row,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
    at_status: str,
    reason: str | None,
    level: int,
    line: str,
) -> None:
    fields = {"failureReason": reason} if reason else {}
    ok(report(client, at_status, **fields))
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="workers.delivery"):
        run_jobs()

    logged = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "workers.delivery"]
    assert logged == [(level, f"message {PROVIDER_ID}{line}")]
    assert DIGITS not in caplog.text
