"""A USSD campaign's invitation, and its reminders: in the household's language, as many as the
campaign says and each once, counted as the campaign's reminders; none to a household that
sent STOP, completed the survey, was erased or was never invited, nor once the campaign is
cancelled."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from flask.testing import FlaskClient
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from sqlalchemy import select

from gateway.campaigns.lifecycle import cancel_campaign, pause_campaign, start_campaign
from gateway.campaigns.queue import CampaignJobs
from gateway.core.runtime import Runtime
from gateway.messaging.models import Message
from tests.campaigns.test_campaigns import (
    INVITATION_FR,
    MORNING,
    FakeClock,
    change,
    contacts_of,
    due_reminders,
    new_campaign,
    numbers,
    work,
)
from tests.phone import FULL_SURVEY_RETURN, Phone, SmsPhone

INVITATION_EN = (
    "IOM/DNDS: free survey of displaced households. Dial *384*123# to answer. "
    "STOP to receive no more messages."
)
NEXT_DAY = MORNING + timedelta(days=1)


def ussd_campaign(runtime: Runtime, audience: list[str | dict[str, str]], **options: object) -> str:
    """A USSD campaign of these households, started and its invitations sent."""
    campaign_id, report = new_campaign(runtime, audience, channel="ussd", **options)
    assert report.accepted == len(audience)
    change(runtime, start_campaign, campaign_id)
    work(runtime, FakeClock(MORNING))
    return campaign_id


def sent_to(runtime: Runtime, number: str) -> list[tuple[str, str | None, str]]:
    """Each message to ``number``: its kind, campaign and text, oldest first."""
    respondent = runtime.services.pseudonymise(number)
    with runtime.sessions() as session:
        rows = session.execute(
            select(Message.kind, Message.campaign_id, Message.body)
            .where(Message.respondent_id == respondent)
            .order_by(Message.created_at)
        ).all()
    return [(kind, campaign, body) for kind, campaign, body in rows]


def planned(runtime: Runtime) -> list[str]:
    """The invitation reminders waiting for their hour."""
    registry = ScheduledJobRegistry(queue=runtime.queue)
    return sorted(j for j in registry.get_job_ids() if j.startswith("campaign-remind-"))


def remind_now(runtime: Runtime, at: timedelta = timedelta(days=1)) -> None:
    """Let the planned reminders fall due and a worker run them, ``at`` after the invitations."""
    due_reminders(runtime, "campaign-remind-")
    work(runtime, FakeClock(MORNING + at))


def test_the_invitation_and_its_reminder_are_in_the_household_s_language(
    runtime: Runtime,
) -> None:
    chose_english, listed_english, neither = numbers(3)
    # English chosen in an earlier survey beats the list's French.
    runtime.store.set_language(runtime.services.pseudonymise(chose_english), "en")
    campaign_id = ussd_campaign(
        runtime,
        [
            {"phone": chose_english, "language": "fr"},
            {"phone": listed_english, "language": "en"},
            {"phone": neither},
        ],
        reminder_count=1,
    )
    remind_now(runtime)

    for number, text in [
        (chose_english, INVITATION_EN),
        (listed_english, INVITATION_EN),
        (neither, INVITATION_FR),  # the survey's own language
    ]:
        assert sent_to(runtime, number) == [
            ("invitation", campaign_id, text),
            ("reminder", campaign_id, text),
        ]


def test_reminders_go_as_many_times_as_the_campaign_says_and_each_once(
    runtime: Runtime,
) -> None:
    first, second = numbers(2)
    campaign_id = ussd_campaign(runtime, [first, second], reminder_count=2)
    contacts = [c.id for c in contacts_of(runtime, campaign_id)]
    assert planned(runtime) == [f"campaign-remind-{c}-1" for c in contacts]

    remind_now(runtime)
    assert planned(runtime) == [f"campaign-remind-{c}-2" for c in contacts]
    remind_now(runtime, timedelta(days=2))
    assert planned(runtime) == []  # the second was the last

    # A reminder past the count, and one run a second time (a retry), send nothing more.
    jobs = CampaignJobs(runtime.queue)
    jobs.remind_invitation(contacts[0], 3, NEXT_DAY)
    jobs.remind_invitation(contacts[1], 2, NEXT_DAY)
    remind_now(runtime, timedelta(days=3))
    assert planned(runtime) == []

    for number in (first, second):
        assert sent_to(runtime, number) == [
            ("invitation", campaign_id, INVITATION_FR),
            ("reminder", campaign_id, INVITATION_FR),
            ("reminder", campaign_id, INVITATION_FR),
        ]


def test_no_reminder_after_stop_completion_erasure_or_a_cancel_nor_before_an_invitation(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    stops, completes, erased, cancelled, never_invited = numbers(5)
    ussd_campaign(runtime, [stops, completes, erased], reminder_count=1)
    SmsPhone(client, runtime, run_jobs, number=stops).send("STOP")
    handset = Phone(client, number=completes)
    handset.dial()
    assert handset.answer_all(FULL_SURVEY_RETURN)[-1].startswith("END Merci.")
    SmsPhone(client, runtime, run_jobs, number=erased).send("EFFACER")

    to_cancel = ussd_campaign(runtime, [cancelled], reminder_count=1)
    change(runtime, cancel_campaign, to_cancel)

    # Paused before its fan-out ran: the contact waits, never invited; a reminder job that
    # reaches it anyway sends nothing.
    paused, _ = new_campaign(runtime, [never_invited], channel="ussd", reminder_count=1)
    change(runtime, start_campaign, paused)
    change(runtime, pause_campaign, paused)
    (waiting,) = contacts_of(runtime, paused)
    CampaignJobs(runtime.queue).remind_invitation(waiting.id, 1, NEXT_DAY)

    remind_now(runtime)
    with runtime.sessions() as session:
        reminders = session.scalars(select(Message).where(Message.kind == "reminder")).all()
    assert reminders == []
    assert sent_to(runtime, never_invited) == []
    assert planned(runtime) == []  # nothing left to retry either
    assert FailedJobRegistry(queue=runtime.queue).get_job_ids() == []
