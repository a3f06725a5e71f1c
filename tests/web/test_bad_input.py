"""Bad input gets a readable answer and changes nothing: never a 500, never a trace."""

from __future__ import annotations

import logging

import pytest
import redis
from flask.testing import FlaskClient

from gateway.core.runtime import Runtime
from tests.phone import FULL_SURVEY_RETURN, Phone

UNAVAILABLE = "END Service momentanement indisponible. Merci de reessayer plus tard."


def live_keys(runtime: Runtime) -> list[bytes]:
    """Every Redis key the gateway's state lives under (runs, sessions, markers)."""
    return sorted(runtime.redis.scan_iter("sg:*"))


def good_form() -> dict[str, str]:
    return {
        "sessionId": "ATUid_bad_1",
        "serviceCode": "*384*123#",
        "phoneNumber": "+22376123456",
        "networkCode": "61001",
        "text": "",
    }


@pytest.mark.parametrize("missing", ["sessionId", "phoneNumber"])
def test_a_missing_field_is_refused_with_a_readable_screen(
    client: FlaskClient, runtime: Runtime, missing: str
) -> None:
    form = good_form()
    del form[missing]

    response = client.post("/ussd", data=form)

    assert response.status_code == 400
    assert response.get_data(as_text=True) == UNAVAILABLE
    assert live_keys(runtime) == []


@pytest.mark.parametrize("number", ["not a number", "123", "+999999999999999999", "☎☎☎"])
def test_a_garbage_phone_number_gets_an_end_screen(
    client: FlaskClient, runtime: Runtime, number: str
) -> None:
    form = {**good_form(), "phoneNumber": number}

    response = client.post("/ussd", data=form)

    assert response.status_code == 200
    assert response.get_data(as_text=True) == (
        "END Numero de telephone non reconnu. / Phone number not recognised."
    )
    assert live_keys(runtime) == []


def test_a_50_kb_text_is_refused_before_it_is_read(client: FlaskClient, runtime: Runtime) -> None:
    form = {**good_form(), "text": "1*" * 25_000}

    response = client.post("/ussd", data=form)

    assert response.status_code == 413
    assert response.get_data(as_text=True) == UNAVAILABLE
    assert live_keys(runtime) == []


def test_a_long_text_under_the_body_limit_is_refused_too(
    client: FlaskClient, runtime: Runtime
) -> None:
    form = {**good_form(), "text": "1" * 5000}

    response = client.post("/ussd", data=form)

    assert response.status_code == 200
    assert response.get_data(as_text=True) == UNAVAILABLE
    assert live_keys(runtime) == []


def test_an_undecodable_body_still_gets_a_screen(client: FlaskClient) -> None:
    body = b"sessionId=\xff\xfe&phoneNumber=%2B22376123456&text=\xc3\x28&serviceCode=x"

    response = client.post("/ussd", data=body, content_type="application/x-www-form-urlencoded")

    assert response.status_code in (200, 400)
    assert response.get_data(as_text=True).startswith(("CON ", "END "))


def test_a_json_body_instead_of_a_form_is_refused(client: FlaskClient, runtime: Runtime) -> None:
    response = client.post("/ussd", json=good_form())

    assert response.status_code == 400
    assert response.get_data(as_text=True) == UNAVAILABLE
    assert live_keys(runtime) == []


def test_get_on_the_webhook_is_a_4xx_not_a_crash(client: FlaskClient) -> None:
    response = client.get("/ussd")

    assert response.status_code == 405
    assert response.get_data(as_text=True) == UNAVAILABLE


def test_an_unknown_path_is_a_json_404(client: FlaskClient) -> None:
    response = client.get("/nowhere")

    assert response.status_code == 404
    assert response.get_json()["error"] == "Not Found"


def test_redis_down_mid_survey_gives_a_readable_screen(
    client: FlaskClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    phone = Phone(client)
    phone.dial()
    # Point the live store at a port nobody listens on: an outage, not a mock of our code.
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    monkeypatch.setattr(runtime.store, "redis", dead)

    screen = phone.send("1")

    assert phone.last_status == 200
    assert screen == UNAVAILABLE


def test_no_phone_number_reaches_the_logs(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    phone = Phone(client, number="+22376123456")
    phone.dial()
    phone.answer_all(FULL_SURVEY_RETURN)
    client.post("/ussd", data={**good_form(), "phoneNumber": "22376123456x"})
    client.post(
        "/ussd/events",
        data={"sessionId": "s", "phoneNumber": "+22376123456", "status": "Success"},
    )

    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "ussd session s ended" in logged  # the events notice was logged, masked
    assert "76123456" not in logged
