"""The phone simulator's doors, through Flask's test client (no browser): who may use them, and
as which number. It only ever acts as the simulator number handed to the signed-in session.

The browser test (tests/browser/test_simulator.py) drives the same page in Chromium.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

import phonenumbers
import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from gateway.core.db import upgrade
from gateway.core.runtime import Runtime
from gateway.core.settings import Settings
from gateway.messaging.models import Message
from gateway.staff.models import AuditEvent
from gateway.surveys.models import Submission, SubmissionStatus
from gateway.surveys.simulator_numbers import draw_simulator_number, is_simulator_number
from gateway.web.app import create_app
from handlers.phone import normalise_phone
from tests.phone import FULL_SURVEY_RETURN, Phone, SmsPhone
from tests.staff import assert_light_page, csrf_token, make_staff, page_of, sign_in

WEBHOOK_TOKEN = "Wq3v9ZkT0p7XcLr2Hs8YbNe4Ju6Ad1Gm5FoQiKx"
HOUSEHOLD = "+22376123456"
# The simulator's doors in place of AT's, as simulator.js posts.
DOORS = {"/ussd": "/simulator/ussd", "/sms/inbound": "/simulator/sms"}


@pytest.fixture
def staff(runtime: Runtime) -> None:
    """Accounts ``viewer``, ``manager`` and ``admin``."""
    make_staff(runtime)


class SimulatorDoors:
    """Posts to the simulator's doors instead of AT's, with the CSRF header, as simulator.js."""

    def __init__(self, client: FlaskClient, csrf: str) -> None:
        self.client, self.csrf = client, csrf
        self.last: TestResponse | None = None

    def post(self, path: str, data: dict[str, str]) -> TestResponse:
        self.last = self.client.post(DOORS[path], data=data, headers={"X-CSRF-Token": self.csrf})
        return self.last


def open_phone(client: FlaskClient) -> tuple[str, SimulatorDoors]:
    """Open the simulator page: its simulator number, and its doors."""
    response = client.get("/simulator")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    phone = re.search(r'data-phone="([^"]+)"', html)
    csrf = re.search(r'data-csrf="([^"]+)"', html)
    assert phone is not None and csrf is not None
    return phone.group(1), SimulatorDoors(client, csrf.group(1))


def submissions_of(runtime: Runtime, number: str) -> list[SubmissionStatus]:
    """The status of each stored submission of the household at ``number``."""
    respondent = runtime.services.pseudonymise(number)
    with runtime.sessions() as session:
        query = select(Submission.status).where(Submission.respondent_id == respondent)
        return list(session.scalars(query))


def messages_to(runtime: Runtime, number: str) -> list[str]:
    """Bodies of the outbox messages to ``number``, oldest first."""
    with runtime.sessions() as session:
        rows = session.scalars(select(Message).order_by(Message.created_at)).all()
        return [m.body for m in rows if runtime.cipher.decrypt(m.to_encrypted) == number]


# -- as which number ------------------------------------------------------------------------


def test_simulator_numbers_are_valid_and_never_a_subscribers() -> None:
    drawn = {draw_simulator_number() for _ in range(200)}

    assert len(drawn) > 150  # drawn at random, not one shared phone
    for number in drawn:
        assert is_simulator_number(number)
        assert phonenumbers.is_valid_number(phonenumbers.parse(number))
        assert normalise_phone(number, "ML") == number
        # NANPA keeps 555-0100 to 555-0199 for fiction in every area code.
        assert re.fullmatch(r"\+1[2-9]\d\d55501\d\d", number)
    for real in (HOUSEHOLD, "+12015550200", "+12015551234", "+447700900123", "+15555550100"):
        assert not is_simulator_number(real)


def test_a_manager_cannot_erase_a_household_from_the_simulator(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int], staff: None
) -> None:
    household = Phone(client, number=HOUSEHOLD)
    household.dial()
    assert household.answer_all(FULL_SURVEY_RETURN)[-1].startswith("END ")
    run_jobs()
    assert submissions_of(runtime, HOUSEHOLD) == [SubmissionStatus.COMPLETED]
    sent = messages_to(runtime, HOUSEHOLD)
    sign_in(client, "manager")
    _, doors = open_phone(client)

    SmsPhone(doors, runtime, run_jobs, number=HOUSEHOLD).post("EFFACER")
    assert doors.last is not None and doors.last.status_code == 403
    assert doors.last.get_json()["message"] == "the simulator only acts as its own simulator number"
    ussd = Phone(doors, number="76123456")  # the same household, as dialled in Mali
    ussd.dial()
    assert doors.last.status_code == 403
    run_jobs()

    assert submissions_of(runtime, HOUSEHOLD) == [SubmissionStatus.COMPLETED]
    assert messages_to(runtime, HOUSEHOLD) == sent  # no confirmation, no screen, nothing


def test_the_simulator_refuses_any_number_but_its_own(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int], staff: None
) -> None:
    sign_in(client, "manager")
    mine, doors = open_phone(client)
    other = "+12015550199" if mine != "+12015550199" else "+12015550198"

    for number in (other, "not a number", ""):
        SmsPhone(doors, runtime, run_jobs, number=number).post("ENQUETE")
        assert doors.last is not None and doors.last.status_code in (400, 403), number
        assert doors.last.is_json
    run_jobs()
    assert messages_to(runtime, other) == []

    assert SmsPhone(doors, runtime, run_jobs, number=mine).send("ENQUETE")[0].startswith("OIM")


def test_the_simulator_reads_only_its_own_numbers_messages(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int], staff: None
) -> None:
    SmsPhone(client, runtime, run_jobs, number=HOUSEHOLD).send("ENQUETE")
    sign_in(client, "manager")
    mine, doors = open_phone(client)
    phone = SmsPhone(doors, runtime, run_jobs, number=mine)
    phone.send("ENQUETE")

    first = client.get("/simulator/messages").get_json()
    assert first["phone"] == mine[:4] + "*" * (len(mine) - 6) + mine[-2:]
    assert [m["body"] for m in first["messages"]] == messages_to(runtime, mine)
    assert client.get("/simulator/messages", query_string={"phone": mine}).get_json() == first
    for household in (HOUSEHOLD, "76123456"):
        refused = client.get("/simulator/messages", query_string={"phone": household})
        assert refused.status_code == 403 and "OIM" not in refused.get_data(as_text=True)
    after = first["messages"][-1]["at"]
    assert client.get("/simulator/messages", query_string={"after": after}).get_json() == {
        "phone": first["phone"],
        "messages": [],
    }
    phone.send("1")
    newer = client.get("/simulator/messages", query_string={"after": after}).get_json()
    assert len(newer["messages"]) == 1
    assert client.get("/simulator/messages?phone=abc").status_code == 400
    assert client.get("/simulator/messages?after=yesterday").status_code == 400


# -- who may use it -------------------------------------------------------------------------


def test_signed_out_nobody_may_use_the_simulator_even_in_development(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    assert runtime.settings.env == "development"
    token = csrf_token(client.get("/dashboard/login").get_data(as_text=True))
    number = draw_simulator_number()
    doors = SimulatorDoors(client, token)

    page = client.get("/simulator")
    assert page.status_code == 302 and "/dashboard/login" in page.headers["Location"]
    new_phone = client.post("/simulator/phone", data={"csrf_token": token})
    assert new_phone.status_code == 302 and "/dashboard/login" in new_phone.headers["Location"]
    for query in ({}, {"phone": HOUSEHOLD}, {"phone": number}):
        refused = client.get("/simulator/messages", query_string=query)
        assert refused.status_code == 401 and refused.is_json
    for who in (HOUSEHOLD, number):
        SmsPhone(doors, runtime, run_jobs, number=who).post("ENQUETE")
        assert doors.last is not None and doors.last.status_code == 401
        Phone(doors, number=who).dial()
        assert doors.last.status_code == 401
    run_jobs()

    assert messages_to(runtime, HOUSEHOLD) == [] and messages_to(runtime, number) == []


def test_a_viewer_may_not_use_the_simulator(client: FlaskClient, staff: None) -> None:
    sign_in(client, "viewer")

    assert client.get("/simulator").status_code == 403
    assert client.get("/simulator/messages").status_code == 403
    assert 'href="/simulator"' not in page_of(client)


def test_opening_a_phone_is_audited_without_the_number(
    client: FlaskClient, runtime: Runtime, staff: None
) -> None:
    sign_in(client, "manager")
    mine, _ = open_phone(client)
    again, _ = open_phone(client)  # the same phone: reloading the page is not a new one

    assert again == mine
    events = audit_of(runtime)
    assert [(e.actor, e.action) for e in events] == [("user:manager", "simulator.open")]
    assert events[0].object_id == runtime.services.pseudonymise(mine)
    for form in (mine, mine.lstrip("+"), mine[2:]):
        assert all(form not in str(value) for e in events for value in vars(e).values())

    token = csrf_token(page_of(client))
    assert client.post("/simulator/phone", data={"csrf_token": token}).status_code == 302
    fresh, _ = open_phone(client)
    assert fresh != mine
    assert [e.object_id for e in audit_of(runtime)][-1] == runtime.services.pseudonymise(fresh)


def audit_of(runtime: Runtime) -> list[AuditEvent]:
    """The simulator's audit events, oldest first."""
    with runtime.sessions() as session:
        query = select(AuditEvent).where(AuditEvent.action == "simulator.open")
        return list(session.scalars(query.order_by(AuditEvent.id)))


def test_the_simulator_page_is_light_and_uses_its_own_doors(
    client: FlaskClient, staff: None
) -> None:
    sign_in(client, "manager")
    response = client.get("/simulator")
    html = response.get_data(as_text=True)

    assert_light_page(html)
    assert 'data-ussd-url="/simulator/ussd"' in html and 'data-sms-url="/simulator/sms"' in html
    assert 'data-service-code="*384*123#"' in html
    script = client.get("/static/simulator.js")
    assert script.status_code == 200
    assert b"XMLHttpRequest" in script.get_data()


# -- in production --------------------------------------------------------------------------


@pytest.fixture
def production_app(settings: Settings, redis_client: redis.Redis) -> Flask:
    """The app as in production (AT's doors want the webhook token), on the test database:
    production's own checks of its settings are another test's business."""
    upgrade(settings.database_url)
    production = replace(settings, env="production", webhook_token=WEBHOOK_TOKEN)
    return create_app(production, client=redis_client)


def test_in_production_the_simulator_keeps_the_webhook_token_secret(
    production_app: Flask,
) -> None:
    make_staff(production_app.extensions["gateway"])
    client = production_app.test_client()
    assert client.get("/simulator").status_code == 302
    sign_in(client, "manager")
    html = client.get("/simulator").get_data(as_text=True)
    assert WEBHOOK_TOKEN not in html
    mine, doors = open_phone(client)
    form = Phone(client, number=mine).form("")
    form["sessionId"] = "sim-1"

    assert client.post("/ussd", data=form).status_code == 403  # AT's door wants the token
    assert client.post("/simulator/ussd", data=form).status_code == 400  # no CSRF token
    screen = doors.post("/ussd", form)

    assert screen.status_code == 200
    assert screen.get_data(as_text=True).startswith("CON OIM/DNDS")
    sms = SmsPhone(doors, None, None, number=mine)
    sms.post("ENQUETE")
    assert sms.last_status == 200
    client.post("/dashboard/logout", data={"csrf_token": doors.csrf})
    sign_in(client, "viewer")
    viewer_csrf = csrf_token(page_of(client))
    refused = client.post("/simulator/ussd", data=form, headers={"X-CSRF-Token": viewer_csrf})
    assert refused.status_code == 403
