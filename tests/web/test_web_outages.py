"""The web app with Redis or the database down: every caller gets an answer it can act on.

Real outages, not mocks: Redis is a port nobody listens on, the database a PostgreSQL URL on
such a port. Never a 500, never a trace; the USSD caller reads a screen, AT is told to retry.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient

from gateway.core.db import upgrade
from gateway.core.runtime import Runtime
from gateway.core.settings import Settings
from gateway.staff.models import Role
from gateway.staff.tokens import create_token
from gateway.web.app import create_app
from tests.killable_redis import free_port
from tests.phone import Phone
from tests.staff import csrf_token

UNAVAILABLE_SCREEN = "END Service momentanement indisponible. Merci de reessayer plus tard."
PHONE_DIGITS = "76123456"
SMS = {
    "from": "+22376123456",
    "to": "12345",
    "text": "SONDAGE",
    "date": "2026-05-01 10:00:00",
    "id": "msg-outage-1",
}
REPORT = {"id": "ATXid_1", "status": "Success"}
EVENT = {"sessionId": "s-1", "status": "Success", "phoneNumber": "+22376123456"}


def _app_on_redis(tmp_path: Path, database_url: str, redis_url: str) -> FlaskClient:
    """The app as `serve` builds it, on ``redis_url``."""
    settings = Settings.from_env(
        {
            "GATEWAY_VAR_DIR": str(tmp_path / "var"),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "GATEWAY_PASSWORD_HASH_PROFILE": "cheapest",
        }
    )
    upgrade(settings.database_url)
    return create_app(settings).test_client()


@pytest.fixture
def redis_down(tmp_path: Path, database_url: str) -> FlaskClient:
    """The app with REDIS_URL on a port nobody listens on."""
    return _app_on_redis(tmp_path, database_url, f"redis://127.0.0.1:{free_port()}/0")


@pytest.fixture
def redis_hung(tmp_path: Path, database_url: str) -> Iterator[FlaskClient]:
    """The app with REDIS_URL on a server that takes connections and never answers."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        yield _app_on_redis(tmp_path, database_url, f"redis://127.0.0.1:{port}/0")


@pytest.fixture
def database_down(tmp_path: Path, redis_client: redis.Redis) -> FlaskClient:
    """The app on a live Redis, with its PostgreSQL on a port nobody listens on."""
    settings = Settings.from_env(
        {
            "GATEWAY_VAR_DIR": str(tmp_path / "var"),
            "DATABASE_URL": f"postgresql://nobody@127.0.0.1:{free_port()}/none?connect_timeout=1",
        }
    )
    return create_app(settings, client=redis_client).test_client()


def _assert_told_to_retry(client: FlaskClient) -> None:
    """AT's callbacks other than the USSD step: 503 with a short text, so AT sends again."""
    for path, form in (("/sms/inbound", SMS), ("/sms/delivery", REPORT)):
        response = client.post(path, data=form)
        assert response.status_code == 503, path
        assert response.mimetype == "text/plain"
        assert "retry later" in response.get_data(as_text=True)


def _assert_no_trace(caplog: pytest.LogCaptureFixture, down: str) -> None:
    assert not [r for r in caplog.records if r.exc_info], "a trace was logged"
    outage_lines = [r.getMessage() for r in caplog.records if "unreachable" in r.getMessage()]
    assert outage_lines and all(line.startswith(down) for line in outage_lines)
    assert PHONE_DIGITS not in caplog.text


def test_redis_down_ussd_reads_a_screen_quickly_and_at_is_told_to_retry(
    redis_down: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    started = time.monotonic()
    screen = Phone(redis_down).dial()
    # Well within AT's few seconds, retry of a blip included.
    assert time.monotonic() - started < 3
    assert screen == UNAVAILABLE_SCREEN

    _assert_told_to_retry(redis_down)
    events = redis_down.post("/ussd/events", data=EVENT)
    assert events.status_code == 503 and events.mimetype == "text/plain"
    _assert_no_trace(caplog, "Redis")


def test_a_hung_redis_holds_a_ussd_step_less_than_at_waits(
    redis_hung: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    started = time.monotonic()
    screen = Phone(redis_hung).dial()

    assert time.monotonic() - started < 4
    assert screen == UNAVAILABLE_SCREEN
    _assert_no_trace(caplog, "Redis")


def test_redis_down_the_api_and_pages_answer_503(
    redis_down: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    runtime: Runtime = redis_down.application.extensions["gateway"]
    with runtime.sessions.begin() as session:
        secret = create_token(session, name="ops", role=Role.ADMIN, actor="cli").secret

    api = redis_down.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert api.status_code != 500
    if api.status_code == 503:
        assert api.get_json() == {
            "error": "Service Unavailable",
            "message": "Service temporarily unavailable; please retry later.",
        }
    page = redis_down.get("/dashboard/login")
    signed = redis_down.post(
        "/dashboard/login",
        data={"username": "x", "password": "y", "csrf_token": csrf_token(page.text)},
    )
    assert signed.status_code == 503
    assert signed.mimetype == "text/html"
    assert "Service Unavailable" in signed.text and "Traceback" not in signed.text

    health = redis_down.get("/healthz")
    assert health.status_code == 503
    assert health.get_json()["checks"]["redis"].startswith("failed: ")
    _assert_no_trace(caplog, "Redis")


def test_database_down_the_api_pages_and_at_callbacks_answer_503(
    database_down: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    api = database_down.get("/api/v1/me", headers={"Authorization": "Bearer sg_whatever"})
    assert api.status_code == 503
    assert api.get_json()["error"] == "Service Unavailable"

    page = database_down.get("/dashboard/login")
    signed = database_down.post(
        "/dashboard/login",
        data={"username": "x", "password": "y", "csrf_token": csrf_token(page.text)},
    )
    assert signed.status_code == 503 and signed.mimetype == "text/html"

    # The USSD conversation lives in Redis: households go on answering meanwhile.
    assert Phone(database_down).dial().startswith(("CON ", "END "))

    health = database_down.get("/healthz")
    assert health.status_code == 503
    assert health.get_json()["checks"]["database"] == "failed: OperationalError"
    _assert_no_trace(caplog, "the database")


def test_healthz_answers_in_seconds_when_the_database_host_does_not_answer(
    tmp_path: Path, redis_client: redis.Redis
) -> None:
    with socket.socket() as silent:  # takes the connection, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        settings = Settings.from_env(
            {
                "GATEWAY_VAR_DIR": str(tmp_path / "var"),
                "DATABASE_URL": f"postgresql://nobody@127.0.0.1:{port}/none",
            }
        )
        client = create_app(settings, client=redis_client).test_client()
        answers: list[int] = []
        asking = threading.Thread(
            target=lambda: answers.append(client.get("/healthz").status_code), daemon=True
        )
        started = time.monotonic()
        asking.start()
        asking.join(timeout=10)

    assert answers == [503]
    assert time.monotonic() - started < 6
