"""The outbox page: what became of each message and why, filtered and paged, and the retry of a
failed message where sending again is safe.

Messages are sent through AT's SDK to the local fake AT; delivery reports are posted as AT posts
them and applied by the worker. A retry goes out through the same send job, to the fake AT.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from gateway.core.clock import utc_now
from gateway.core.runtime import Runtime
from gateway.messaging.models import Message, MessageStatus
from gateway.messaging.sender import AfricasTalkingSender
from tests.at_server import FakeATServer
from tests.messaging.test_delivery import NUMBER, report
from tests.phone import FULL_SURVEY_RETURN, Phone, SmsPhone
from tests.staff import assert_light_page, audit_actions, csrf_token, make_staff, sign_in, text_of

MASKED = "+22376****56"
PAGE = "/dashboard/messages/"


def the_message(runtime: Runtime) -> Message:
    with runtime.sessions() as session:
        (message,) = session.scalars(select(Message))
        return message


def every_message(runtime: Runtime) -> list[Message]:
    with runtime.sessions() as session:
        return list(session.scalars(select(Message)))


def retry(client: FlaskClient, message: Message) -> str:
    """Press the message's retry button as a browser does; the page it lands on."""
    html = client.get(PAGE).get_data(as_text=True)
    response = client.post(
        f"{PAGE}{message.id}/retry",
        data={"csrf_token": csrf_token(html), "back": PAGE + "?status=failed"},
        follow_redirects=True,
    )
    return text_of(response)


@pytest.fixture
def confirmed(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int], at_server: FakeATServer
) -> AfricasTalkingSender:
    """A household completed the USSD survey; AT took its confirmation (ATXid_1)."""
    make_staff(runtime)
    phone = Phone(client, number=NUMBER)
    phone.dial()
    phone.answer_all(FULL_SURVEY_RETURN)
    sender = AfricasTalkingSender("sandbox", "k", api_url=at_server.url)
    run_jobs(sender)
    assert the_message(runtime).status is MessageStatus.SENT
    return sender


def test_a_message_the_network_failed_is_shown_with_its_reason_and_sent_again(
    client: FlaskClient,
    runtime: Runtime,
    run_jobs: Callable[..., int],
    at_server: FakeATServer,
    confirmed: AfricasTalkingSender,
) -> None:
    report(client, "Failed", failureReason="AbsentSubscriber")
    run_jobs(confirmed)
    sign_in(client, "manager")

    page = client.get(PAGE)
    html = page.get_data(as_text=True)
    assert_light_page(html)
    row = text_of(page).split("<tbody>")[1]
    assert "confirmation" in row and MASKED in row and "échec" in row
    assert "téléphone éteint ou hors réseau (AbsentSubscriber)" in row
    assert "Renvoyer" in row
    # Neither the number nor the body (its reference code) is on the page.
    stored = the_message(runtime)
    assert NUMBER not in html and stored.body not in html and "merci" not in html.lower()

    landed = retry(client, stored)

    assert "Le message repart" in landed
    assert the_message(runtime).status is MessageStatus.QUEUED
    assert the_message(runtime).provider_id is None
    assert ("user:manager", "message.retry") in audit_actions(runtime)
    run_jobs(confirmed)
    assert len(at_server.requests) == 2  # the first send, and the retry
    again = the_message(runtime)
    assert again.status is MessageStatus.SENT and again.provider_id == "ATXid_2"
    assert "Renvoyer" not in text_of(client.get(PAGE)).split("<tbody>")[1]


def test_a_delivered_message_is_never_sent_again(
    client: FlaskClient,
    runtime: Runtime,
    run_jobs: Callable[..., int],
    at_server: FakeATServer,
    confirmed: AfricasTalkingSender,
) -> None:
    sign_in(client, "manager")
    sent = text_of(client.get(PAGE))
    assert "envoyé (accepté par AT)" in sent and "Renvoyer" not in sent.split("<tbody>")[1]
    refused_sent = retry(client, the_message(runtime))
    assert "Pas renvoyé : le message est « envoyé (accepté par AT) »" in refused_sent

    report(client, "Success")
    run_jobs(confirmed)
    refused = retry(client, the_message(runtime))

    assert "Pas renvoyé : le message est « reçu »" in refused
    assert the_message(runtime).status is MessageStatus.DELIVERED
    assert not [a for a in audit_actions(runtime) if a[1] == "message.retry"]
    assert len(at_server.requests) == 1


def test_a_message_to_a_number_that_opted_out_is_never_sent_again(
    client: FlaskClient,
    runtime: Runtime,
    run_jobs: Callable[..., int],
    at_server: FakeATServer,
    confirmed: AfricasTalkingSender,
) -> None:
    report(client, "Rejected", failureReason="DeliveryFailure")
    run_jobs(confirmed)
    SmsPhone(client, runtime, run_jobs, number=NUMBER).post("STOP")
    run_jobs(confirmed)  # the STOP is recorded, and its confirmation sent
    sign_in(client, "manager")
    confirmation = next(m for m in every_message(runtime) if m.kind == "confirmation")

    refused = retry(client, confirmation)

    assert "le numéro s'est désinscrit (STOP)" in refused
    assert not [a for a in audit_actions(runtime) if a[1] == "message.retry"]


def test_a_number_that_refuses_sms_is_never_sent_again(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int], at_server: FakeATServer
) -> None:
    make_staff(runtime)
    at_server.respond_with("blacklisted")
    phone = Phone(client, number=NUMBER)
    phone.dial()
    phone.answer_all(FULL_SURVEY_RETURN)
    run_jobs(AfricasTalkingSender("sandbox", "k", api_url=at_server.url))
    assert the_message(runtime).status is MessageStatus.FAILED
    sign_in(client, "manager")

    assert "Renvoyer" not in text_of(client.get(PAGE)).split("<tbody>")[1]
    refused = retry(client, the_message(runtime))
    assert "le réseau dit que ce numéro refuse les SMS" in refused


def add_messages(runtime: Runtime, count: int, status: MessageStatus, days_ago: int = 0) -> None:
    at = utc_now() - timedelta(days=days_ago)
    with runtime.sessions.begin() as session:
        for i in range(count):
            session.add(
                Message(
                    respondent_id=f"r-{status}-{i}",
                    kind="invitation",
                    to_encrypted=runtime.cipher.encrypt(f"+2237600{i:04d}"),
                    to_masked=f"+22376****{i % 100:02d}",
                    body="Composez *123#",
                    status=status,
                    created_at=at,
                )
            )


def test_the_outbox_is_paged_and_filtered(client: FlaskClient, runtime: Runtime) -> None:
    make_staff(runtime)
    add_messages(runtime, 55, MessageStatus.DELIVERED)
    add_messages(runtime, 3, MessageStatus.EXPIRED, days_ago=20)
    sign_in(client, "manager")

    first = client.get(PAGE).get_data(as_text=True)
    assert "58 au total." in first and "Page 1 sur 2" in first
    assert first.count("<td>invitation</td>") == 50
    assert "Composez" not in first
    second = client.get(PAGE + "?page=2").get_data(as_text=True)
    assert second.count("<td>invitation</td>") == 8
    expired = text_of(client.get(PAGE + "?status=expired"))
    assert "3 au total." in expired and "Renvoyer" not in expired.split("<tbody>")[1]  # too old
    day = (utc_now() - timedelta(days=20)).strftime("%d/%m/%Y")
    assert "3 au total." in text_of(client.get(f"{PAGE}?since={day}&until={day}"))
    assert "0 au total." in text_of(client.get(PAGE + "?campaign=none"))

    bad = client.get(PAGE + "?status=lost&since=demain")
    assert bad.status_code == 400
    html = bad.get_data(as_text=True)
    assert 'id="status-error"' in html and 'id="since-error"' in html
    assert client.get(PAGE + "?page=abc").status_code == 200
