"""Cancelling an SMS campaign stops the reminders of every run it started, however many, and
only those: another campaign's households are still reminded, a finished run's record is left
as it was, and a household answering at that moment does not bring its reminders back."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from rq.registry import FailedJobRegistry

from gateway.campaigns.lifecycle import cancel_campaign, start_campaign
from gateway.core.runtime import Runtime
from gateway.staff.audit import CLI_ACTOR
from tests.campaigns.test_campaigns import (
    CONSENT_FR,
    MORNING,
    SMS_SURVEY,
    FakeClock,
    change,
    contacts_of,
    new_campaign,
    numbers,
    work,
)
from tests.phone import SmsPhone
from tests.reminders import make_reminders_due, time_limit
from workers import campaigns as campaign_jobs
from workers.campaigns import stop_reminders

REMINDER_FR = (
    "Rappel OIM/DNDS: le sondage sur les ménages déplacés attend votre réponse. "
    "Répondez à la dernière question ou STOP pour quitter."
)


def sms_campaign(runtime: Runtime, audience: list[str]) -> str:
    """An SMS campaign with one reminder, started and its first questions sent."""
    campaign_id, _ = new_campaign(runtime, audience, reminder_count=1, reminder_interval_hours=6)
    change(runtime, start_campaign, campaign_id)
    work(runtime, FakeClock(MORNING))
    return campaign_id


def cancel(runtime: Runtime, campaign_id: str) -> None:
    """Cancel the campaign, and run the job the cancel queues (bounded: it must end)."""
    with runtime.sessions.begin() as session:
        cancel_campaign(session, campaign_id, actor=CLI_ACTOR)
    with time_limit(60):
        stop_reminders(campaign_id)


def test_a_cancel_stops_the_reminders_of_every_run_in_chunks_and_of_no_other_campaign(
    client: FlaskClient,
    runtime: Runtime,
    run_jobs: Callable[..., int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(campaign_jobs, "STOP_CHUNK", 2)  # five runs: three chunks
    audience, elsewhere = numbers(5), numbers(1, first=50)
    cancelled = sms_campaign(runtime, audience)
    sms_campaign(runtime, elsewhere)
    phones = [SmsPhone(client, runtime, run_jobs, number=n) for n in audience + elsewhere]
    for phone in phones:
        assert phone.replies() == [CONSENT_FR]
    finisher, *waiting, other = phones
    for answer in SMS_SURVEY:
        finisher.send(answer)
    # The finished run's record leaves Redis on its own clock (here: as if it ended long ago).
    finished = f"sg:run:{contacts_of(runtime, cancelled)[0].run_id}"
    runtime.redis.expire(finished, 300)
    record = runtime.redis.get(finished)

    cancel(runtime, cancelled)

    assert runtime.redis.get(finished) == record
    assert 0 < runtime.redis.ttl(finished) <= 300  # not kept any longer for the cancel
    make_reminders_due(runtime)
    for phone in waiting:
        assert phone.replies() == []
    assert other.replies() == [REMINDER_FR]
    assert FailedJobRegistry(queue=runtime.queue).get_job_ids() == []


def test_a_household_answering_as_the_campaign_is_cancelled_gets_no_reminder(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    (number,) = numbers(1)
    campaign_id = sms_campaign(runtime, [number])
    phone = SmsPhone(client, runtime, run_jobs, number=number)
    assert phone.replies() == [CONSENT_FR]
    (contact,) = contacts_of(runtime, campaign_id)
    assert contact.run_id is not None
    with runtime.sessions.begin() as session:
        cancel_campaign(session, campaign_id, actor=CLI_ACTOR)

    stopping = threading.Thread(target=stop_reminders, args=(campaign_id,))
    with runtime.store.lock(contact.respondent_id):
        # The household's request holds its lock: it read the run (reminders and all) and
        # writes it back as it lets go. The cancel's job waits for it rather than go first.
        taken = runtime.store.load_run(contact.run_id)
        assert taken is not None
        stopping.start()
        stopping.join(timeout=1.0)
        runtime.store.save_run(taken)
    stopping.join(timeout=10)
    assert not stopping.is_alive()

    make_reminders_due(runtime)
    assert phone.replies() == []
