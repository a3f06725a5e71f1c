"""GATEWAY_LOG_FORMAT=json: one JSON object a line, the request's or job's id on it, and no
phone number in any field (message, arguments, extra fields, traceback)."""

from __future__ import annotations

import io
import ipaddress
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from gateway.core.logs import MaskNumbersFilter, log_handler
from gateway.core.outage import Outage
from gateway.core.runtime import Runtime
from gateway.core.settings import Settings
from gateway.processes.worker import GatewayWorker

NUMBER = "22376123456"
DIGITS = "76123456"  # the subscriber part: in no line, whatever the field
MASKED = "+22376****56"


@pytest.fixture
def root_json() -> Iterator[io.StringIO]:
    """Everything logged (through the root logger) as the JSON format writes it."""
    out = io.StringIO()
    handler = log_handler(out, "json")
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def lines(out: io.StringIO) -> list[dict[str, Any]]:
    """Each line written, read back as JSON (fails on a line that is not)."""
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_every_field_is_masked_and_the_traceback_is_included(root_json: io.StringIO) -> None:
    logger = logging.getLogger("tests.json_logs")

    logger.warning("sending to %s, attempt %d", f"+{NUMBER}", 2)
    logger.info("raw id %d", int(NUMBER))
    logger.info(
        "with extras",
        extra={
            "phone": f"tel:+{NUMBER}",
            "msisdn": int(NUMBER),
            "batch": {"to": [NUMBER, "+22376000001"], "size": 2},
            "url": "/ussd?token=s3cret-token",
        },
    )
    try:
        raise ConnectionError(f"peer +{NUMBER} went away")
    except ConnectionError:
        logger.exception("send failed for %s", NUMBER)

    text = root_json.getvalue()
    assert DIGITS not in text and "s3cret" not in text
    sending, raw, extras, failure = lines(root_json)
    assert sending["message"] == f"sending to {MASKED}, attempt 2"
    assert (sending["level"], sending["logger"]) == ("WARNING", "tests.json_logs")
    assert sending["time"].endswith("+00:00")
    assert raw["message"] == f"raw id {MASKED}"
    assert extras["phone"] == f"tel:{MASKED}"
    assert extras["msisdn"] == MASKED
    assert extras["batch"] == {"to": [MASKED, "+22376****01"], "size": 2}
    assert extras["url"] == "/ussd?token=***"
    assert failure["message"] == f"send failed for {MASKED}"
    assert failure["exc_info"].startswith("Traceback (most recent call last)")
    assert failure["exc_info"].endswith(f"ConnectionError: peer {MASKED} went away")


def test_arguments_and_extras_are_masked_for_any_formatter() -> None:
    # A handler of someone else's (gunicorn's, a collector's) reading the raw record.
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(message)s %(args)s %(phone)s"))
    handler.addFilter(MaskNumbersFilter())
    logger = logging.getLogger("tests.json_logs.other")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("count %d", 3, extra={"phone": NUMBER})
        logger.warning("call %s", {"to": f"+{NUMBER}"}, extra={"phone": "none"})
    finally:
        logger.removeHandler(handler)

    assert DIGITS not in out.getvalue()
    assert out.getvalue().splitlines() == [
        f"count 3 (3,) {MASKED}",
        f"call {{'to': '{MASKED}'}} None none",
    ]


def test_each_web_request_has_an_id_in_its_lines_and_its_answer(
    client: FlaskClient, root_json: io.StringIO
) -> None:
    form = {"sessionId": "ATUid_1", "status": "Failed", "phoneNumber": f"+{NUMBER}"}

    given = client.post("/ussd/events", data=form, headers={"X-Request-Id": "proxy-42.a_b"})
    forged = client.post("/ussd/events", data=form, headers={"X-Request-Id": 'x" level=ERROR'})
    fresh = client.post("/ussd/events", data=form)
    logging.getLogger("tests.json_logs").warning("after the requests")

    assert given.headers["X-Request-Id"] == "proxy-42.a_b"
    assert forged.headers["X-Request-Id"] != 'x" level=ERROR'
    ids = [given.headers["X-Request-Id"], forged.headers["X-Request-Id"]]
    ids.append(fresh.headers["X-Request-Id"])
    assert len(set(ids)) == 3 and all(len(i) == 32 for i in ids[1:])
    *ended, after = lines(root_json)
    assert [(line["request_id"], line["message"]) for line in ended] == [
        (i, f"ussd session ATUid_1 ended: status=Failed phone={MASKED} duration_ms=?") for i in ids
    ]
    assert "request_id" not in after
    assert DIGITS not in root_json.getvalue()


def test_each_job_has_its_id_in_its_lines_and_a_failure_shows_no_number(
    runtime: Runtime, settings: Settings, root_json: io.StringIO
) -> None:
    speaks = runtime.queue.enqueue(logging.warning, "job says %s", f"+{NUMBER}")
    fails = runtime.queue.enqueue(ipaddress.ip_address, f"tel:+{NUMBER}")  # ValueError
    worker = GatewayWorker(
        [runtime.queue], connection=runtime.redis, outage=Outage("Redis", "test"), runtime=runtime
    )

    worker.work(burst=True)

    assert DIGITS not in root_json.getvalue()
    logged = lines(root_json)
    said = [line for line in logged if line["message"] == f"job says {MASKED}"]
    assert [line["job_id"] for line in said] == [speaks.id]
    # RQ's own line for a failed job: the traceback in the message, the arguments as a field.
    (failure,) = [line for line in logged if line["level"] == "ERROR"]
    assert failure["job_id"] == fails.id
    assert failure["arguments"] == [f"tel:{MASKED}"]
    assert f"ValueError: 'tel:{MASKED}' does not appear" in failure["message"]
    assert all("request_id" not in line for line in logged)
