"""What the gateway's logs show: no phone number and no token, identifiers still readable."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from gateway.core.logs import MaskNumbersFilter, configure_logging, log_handler
from tests.processes.test_cli import REPO, cli_env, free_port, poll, stop_process

NUMBER = "22376123456"
RUN_ID = "3f2b8c1e-12ab-4c3d-9e8f-123456789012"  # a UUID whose last group is all digits
PSEUDONYM = "8a9a542944ddea9993aca19103ac3228e7b89bc16b7a50fd1645a3078c4a50f4"


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger writing through the gateway's handler to a string."""
    out = io.StringIO()
    logger = logging.getLogger("tests.logs")
    handler = log_handler(out)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield logger, out
    finally:
        logger.removeHandler(handler)


@pytest.mark.parametrize(
    "message",
    [
        f"calling tel:+{NUMBER}",
        f"retry of id-{NUMBER}",
        f"bad field x{NUMBER}",
        f"to {NUMBER}abc",
        f"to +{NUMBER}.",
    ],
)
def test_a_number_is_masked_whatever_stands_next_to_it(
    logged: tuple[logging.Logger, io.StringIO], message: str
) -> None:
    logger, out = logged

    logger.warning(message)

    assert "+22376****56" in out.getvalue()
    assert "76123456" not in out.getvalue()


def test_identifiers_stay_readable(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, out = logged

    logger.info("run %s of %s, job sync-%s-3, reference K7Q2ZP", RUN_ID, PSEUDONYM, RUN_ID)

    assert (
        out.getvalue()
        .rstrip()
        .endswith(f"run {RUN_ID} of {PSEUDONYM}, job sync-{RUN_ID}-3, reference K7Q2ZP")
    )


def test_a_traceback_shows_no_number(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, out = logged

    try:
        raise ValueError(f"no route to +{NUMBER}")
    except ValueError:
        logger.exception("sending failed")

    text = out.getvalue()
    assert "Traceback (most recent call last)" in text
    assert "ValueError: no route to +22376****56" in text
    assert "76123456" not in text


def test_a_traceback_through_a_handler_of_its_own_shows_no_number() -> None:
    # As gunicorn logs: its handler and formatter, our filter on its logger.
    out = io.StringIO()
    logger = logging.getLogger("tests.logs.own_handler")
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.addFilter(MaskNumbersFilter())
    logger.propagate = False
    try:
        try:
            raise ConnectionError(f"peer {NUMBER} went away")
        except ConnectionError:
            logger.exception("error handling request")
        logger.warning("here", stack_info=True)  # from the line with +22376123456 on it
    finally:
        logger.removeHandler(handler)

    text = out.getvalue()
    assert "ConnectionError: peer +22376****56 went away" in text
    assert "Stack (most recent call last)" in text
    assert "76123456" not in text


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_the_access_log_shows_no_webhook_token(tmp_path: Path, log_format: str) -> None:
    token = "Qm7v2Lr9Xw4Tz8Kp1Bn6Hd3Jf5Gs0Ya_"
    port = free_port()
    env = cli_env(tmp_path / "var", port) | {
        "GATEWAY_WEBHOOK_TOKEN": token,
        "GATEWAY_LOG_FORMAT": log_format,
    }
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "serve", "--access-log"],
            env=env,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"

        def answered() -> int | None:
            if server.poll() is not None:
                pytest.fail(f"serve exited with {server.returncode}:\n{log.read_text()}")
            try:
                form = {"sessionId": "ATUid_log", "phoneNumber": f"+{NUMBER}", "text": ""}
                status: int = requests.post(
                    f"{base}/ussd?token={token}", data=form, timeout=2
                ).status_code
                return status
            except requests.RequestException:
                return None

        assert poll("serve to answer", answered, timeout=30) == 200
    finally:
        stop_process(server)

    text = log.read_text()
    assert "POST /ussd?token=*** HTTP/1.1" in text
    assert token not in text
    assert "76123456" not in text
    if log_format == "json":
        # gunicorn's own lines (start, workers, access) too: a collector reads one format.
        records = [json.loads(line) for line in text.splitlines()]
        assert {"gunicorn.error", "gunicorn.access"} <= {r["logger"] for r in records}


def test_rqs_routine_maintenance_lines_stay_out_of_the_terminal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    configure_logging("INFO")
    rq_log = logging.getLogger("rq.worker")
    with caplog.at_level(logging.INFO):
        rq_log.info("Worker %s: cleaning registries for queue: %s", "w1", "gateway")
        rq_log.info("Worker %s: cleaning group registries", "w1")
        rq_log.info("gateway: workers.sms.send_reply(...) (reply-1)")

    assert [r.getMessage() for r in caplog.records] == [
        "gateway: workers.sms.send_reply(...) (reply-1)"
    ]
