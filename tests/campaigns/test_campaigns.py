"""Campaigns: import a list, invite it at a pace within hours, and follow what households do.

Jobs run in a real RQ worker on the test Redis and database. Time is a fake clock handed to the
workers (``WorkerContext.clock``), so a throttled campaign of 1,000 numbers takes no real
seconds, and "20:00 in Bamako" is whenever the test says.
"""

from __future__ import annotations

import io
import os
import tracemalloc
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner, Result
from flask.testing import FlaskClient
from rq import SimpleWorker
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from sqlalchemy import delete, func, select, update

from gateway.campaigns.audience import (
    ImportReport,
    InvalidRow,
    csv_rows,
    import_audience,
    json_rows,
)
from gateway.campaigns.definition import CampaignError, CampaignSpec, create_campaign
from gateway.campaigns.lifecycle import (
    cancel_campaign,
    pause_campaign,
    resume_campaign,
    start_campaign,
)
from gateway.campaigns.models import Campaign, CampaignContact, CampaignStatus, ContactStatus
from gateway.campaigns.progress import Progress, progress, shown_status
from gateway.campaigns.queue import CampaignJobs, pending_key
from gateway.cli.campaigns import campaign
from gateway.core.rate_limit import RateLimiter
from gateway.core.redis_client import url_of
from gateway.core.runtime import Runtime
from gateway.messaging.models import Message
from gateway.messaging.sender import AfricasTalkingSender, ConsoleSender, Sender
from gateway.staff.audit import CLI_ACTOR
from gateway.staff.models import AuditEvent, Role
from gateway.staff.tokens import create_token
from gateway.surveys.models import OptOut
from tests.at_server import FakeATServer
from tests.phone import FULL_SURVEY_RETURN, Phone, SmsPhone
from tests.reminders import make_reminders_due, pending_reminders
from workers.context import WorkerContext, install

CONSENT_FR = (
    "OIM/DNDS: sondage volontaire et gratuit sur les ménages déplacés. Réponses "
    "confidentielles, sans effet sur l'aide.\n1.J'accepte\n2.Non"
)
INVITATION_FR = (
    "OIM/DNDS: sondage gratuit sur les menages deplaces. Composez *384*123# pour repondre. "
    "STOP pour ne plus recevoir."
)
# Bamako is UTC+0 all year. Yesterday 10:00, inside the default 08:00-19:00 window, and
# recent: runs the invitations start are timed by the real clock, and must not look expired.
MORNING = datetime.combine(date.today() - timedelta(days=1), time(10), tzinfo=UTC)
EVENING = datetime(2026, 3, 2, 20, 0, tzinfo=UTC)


class FakeClock:
    """Time that moves only when told to, or when someone sleeps."""

    def __init__(self, start: datetime) -> None:
        self.moment = start
        self.slept = 0.0

    def now(self) -> datetime:
        return self.moment

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.moment += timedelta(seconds=seconds)


def numbers(count: int, first: int = 0) -> list[str]:
    """Distinct Malian mobile numbers."""
    return [f"+2237{6000000 + first + i:07d}" for i in range(count)]


def new_campaign(
    runtime: Runtime, audience: Sequence[str | dict[str, str]] | None = None, **options: object
) -> tuple[str, ImportReport]:
    """A draft campaign of the return-intention survey with these numbers (or rows, with a
    language); its id and report."""
    values: dict[str, object] = {
        "name": "Mopti, mars",
        "flow": "return_intention",
        "channel": "sms",
    }
    values.update(options)
    with runtime.sessions.begin() as session:
        campaign = create_campaign(
            session,
            CampaignSpec(**values),  # type: ignore[arg-type]
            runtime.flows,
            ussd_flow=runtime.settings.ussd_flow,
            actor=CLI_ACTOR,
        )
        rows = json_rows([n if isinstance(n, dict) else {"phone": n} for n in audience or []])
        report = import_audience(session, runtime, campaign, rows, actor=CLI_ACTOR)
        return campaign.id, report


def change(runtime: Runtime, action: Callable[..., Campaign], campaign_id: str) -> Campaign:
    """A state change as the CLI makes it: committed, then handed to the workers."""
    with runtime.sessions.begin() as session:
        campaign = action(session, campaign_id, actor=CLI_ACTOR)
    CampaignJobs(runtime.queue).after_change(campaign)
    return campaign


def work(runtime: Runtime, clock: FakeClock, sender: Sender | None = None) -> None:
    """Run every queued job with the fake clock, as a worker would."""
    sender = sender or ConsoleSender(io.StringIO())
    install(WorkerContext(runtime=runtime, sender=sender, clock=clock))
    SimpleWorker([runtime.queue], connection=runtime.redis).work(burst=True)


def counts(runtime: Runtime, campaign_id: str, now: datetime | None = None) -> Progress:
    with runtime.sessions() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        return progress(session, campaign, now or datetime.now(UTC))


def the_campaign(runtime: Runtime, campaign_id: str) -> Campaign:
    with runtime.sessions() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        return campaign


def invitations(runtime: Runtime) -> dict[str, int]:
    """How many first questions or invitations each respondent got."""
    with runtime.sessions() as session:
        rows = session.execute(
            select(Message.respondent_id, func.count())
            .where(Message.kind.in_(["question", "invitation"]))
            .group_by(Message.respondent_id)
        ).all()
    return {respondent: count for respondent, count in rows}


# --- the audience -----------------------------------------------------------------------------


def test_a_csv_list_is_checked_row_by_row(runtime: Runtime) -> None:
    stopped_in_redis, stopped_in_sql = "+22376000101", "+22376000102"
    runtime.store.set_opted_out(runtime.services.pseudonymise(stopped_in_redis), True)
    with runtime.sessions.begin() as session:
        session.add(
            OptOut(
                respondent_id=runtime.services.pseudonymise(stopped_in_sql), opted_out_at=MORNING
            )
        )
    csv_text = (
        "\ufeffNuméro;Langue;Région\n"  # Excel in French: BOM, semicolons, accents
        "76 00 00 01;fr;Mopti\n"  # row 2
        "+223 76 00 00 02;English;Gao\n"  # row 3
        "12345;;\n"  # row 4: too short
        ";fr;Kayes\n"  # row 5: no number
        "0022376000001;;\n"  # row 6: row 2 again, written otherwise
        f"{stopped_in_redis};;\n"  # row 7
        f"{stopped_in_sql};;\n"  # row 8
        ";;\n"  # row 9: blank, skipped
        "76000003;bambara;\n"  # row 10: a language the survey does not offer
        "Awa Traore;;\n"  # row 11: a name in the number column
        '"+22376000004";EN;"Tombouctou, Ber"\n'  # row 12
    )
    campaign_id, _ = new_campaign(runtime)

    with runtime.sessions.begin() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        stream = io.BytesIO(csv_text.encode("utf-8"))
        report = import_audience(session, runtime, campaign, csv_rows(stream), actor=CLI_ACTOR)

    assert (report.accepted, report.duplicates, report.opted_out) == (3, 1, 2)
    assert report.invalid_count == 4
    assert report.invalid == [
        InvalidRow(4, "not a phone number (***45)"),
        InvalidRow(5, "no phone number"),
        InvalidRow(10, "unknown language (the survey offers fr, en)"),
        InvalidRow(11, "not a phone number (no digits)"),
    ]
    with runtime.sessions() as session:
        contacts = session.scalars(select(CampaignContact).order_by(CampaignContact.id)).all()
    assert [(c.row_number, c.language, c.region) for c in contacts] == [
        (2, "fr", "Mopti"),
        (3, "en", "Gao"),
        (12, "en", "Tombouctou, Ber"),
    ]
    assert [runtime.cipher.decrypt(c.phone_encrypted) for c in contacts] == [
        "+22376000001",
        "+22376000002",
        "+22376000004",
    ]
    assert contacts[0].phone_masked == "+22376****01"
    assert all(c.status is ContactStatus.QUEUED for c in contacts)


def test_a_file_without_a_phone_column_is_refused_whole(runtime: Runtime) -> None:
    campaign_id, _ = new_campaign(runtime)
    with pytest.raises(CampaignError, match="no phone column"):
        with runtime.sessions.begin() as session:
            campaign = session.get(Campaign, campaign_id)
            assert campaign is not None
            stream = io.BytesIO(b"name,region\nAwa,Mopti\n")
            import_audience(session, runtime, campaign, csv_rows(stream), actor=CLI_ACTOR)
    assert counts(runtime, campaign_id).contacts == 0


# --- sending ----------------------------------------------------------------------------------


def test_a_thousand_number_sms_campaign_sends_a_thousand_first_questions(
    runtime: Runtime,
) -> None:
    campaign_id, report = new_campaign(runtime, numbers(1000), throttle=50)
    assert report.accepted == 1000
    clock = FakeClock(MORNING)

    change(runtime, start_campaign, campaign_id)
    work(runtime, clock)

    sent = invitations(runtime)
    assert len(sent) == 1000 and set(sent.values()) == {1}
    with runtime.sessions() as session:
        bodies = set(session.scalars(select(Message.body).where(Message.kind == "question")))
        times = sorted(session.scalars(select(CampaignContact.sent_at)))
    assert len(bodies) == 1 and bodies.pop().startswith("OIM/DNDS: sondage volontaire")
    # 50 a second: any 51 invitations in a row span at least a second (of the fake clock).
    spans = [later - first for first, later in zip(times, times[50:], strict=False)]
    assert min(spans) >= timedelta(seconds=1)
    assert the_campaign(runtime, campaign_id).status is CampaignStatus.COMPLETED
    progress_now = counts(runtime, campaign_id)
    assert (progress_now.contacts, progress_now.sent, progress_now.queued) == (1000, 1000, 0)
    assert FailedJobRegistry(queue=runtime.queue).get_job_ids() == []


def test_outside_its_hours_a_campaign_waits_for_the_next_opening(runtime: Runtime) -> None:
    campaign_id, _ = new_campaign(runtime, numbers(3))
    clock = FakeClock(EVENING)

    change(runtime, start_campaign, campaign_id)
    work(runtime, clock)

    assert invitations(runtime) == {}
    registry = ScheduledJobRegistry(queue=runtime.queue)
    (job_id,) = [j for j in registry.get_job_ids() if not j.startswith("remind-")]
    assert registry.get_scheduled_time(job_id) == datetime(2026, 3, 3, 8, 0, tzinfo=UTC)

    # The next morning, the scheduler hands the job to a worker.
    clock.moment = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
    registry.remove(job_id)
    runtime.queue.enqueue_job(Job.fetch(job_id, connection=runtime.redis))
    work(runtime, clock)
    assert len(invitations(runtime)) == 3


def test_the_limiter_grants_at_most_n_a_second_across_processes(
    redis_client: redis.Redis,
) -> None:
    clock = FakeClock(MORNING)
    first, second = RateLimiter(redis_client, clock), RateLimiter(redis_client, clock)
    granted: list[float] = []
    for step in range(300):  # three seconds in steps of 10 ms, both asking at every step
        clock.moment = MORNING + timedelta(milliseconds=10 * step)
        for limiter in (first, second):
            if limiter.try_acquire("sg:test:rate", 5) == 0:
                granted.append(clock.moment.timestamp())

    assert len(granted) == 15
    for t in granted:  # any one-second window, not only whole seconds
        assert sum(1 for u in granted if t <= u < t + 1) <= 5
    # A refused caller is told how long to wait for the next grant.
    clock.moment = datetime.fromtimestamp(granted[-1], UTC)
    assert first.try_acquire("sg:test:rate", 5) == pytest.approx(0.2)
    assert second.try_acquire("sg:other:rate", 5) == 0  # another key has its own pace


# --- what households do -----------------------------------------------------------------------

SMS_SURVEY = ["1", "11", "5", "6", "1", "2", "1", "3"]


def test_what_households_do_moves_the_counts(
    client: FlaskClient,
    runtime: Runtime,
    run_jobs: Callable[..., int],
    at_server: FakeATServer,
) -> None:
    audience = numbers(4)
    completes, starts, stops, ignores = audience
    phones = [SmsPhone(client, runtime, run_jobs, number=n) for n in audience]
    campaign_id, _ = new_campaign(runtime, audience)
    change(runtime, start_campaign, campaign_id)
    work(runtime, FakeClock(MORNING), AfricasTalkingSender("sandbox", "k", api_url=at_server.url))
    assert all(phone.replies() == [CONSENT_FR] for phone in phones)
    assert counts(runtime, campaign_id) == Progress(contacts=4, sent=4, answering=4)

    # AT reports on the invitations (ATXid_1 to ATXid_4, in list order).
    for provider_id, status, number in [
        ("ATXid_1", "Success", completes),
        ("ATXid_2", "Success", starts),
        ("ATXid_4", "Rejected", ignores),
    ]:
        form = {"id": provider_id, "status": status, "phoneNumber": number, "retryCount": "0"}
        assert client.post("/sms/delivery", data=form).status_code == 200
    run_jobs()
    for answer in SMS_SURVEY:
        phones[0].send(answer)
    assert phones[1].send("1")[0].startswith("Région où vit votre ménage")
    assert phones[2].send("STOP") == ["Merci. Vous ne recevrez plus de messages de ce sondage."]

    # Still answering: who started and did not finish, and who did not answer yet.
    assert counts(runtime, campaign_id) == Progress(
        contacts=4,
        sent=4,
        delivered=2,
        failed=1,
        started=2,
        completed=1,
        answering=2,
        opted_out=1,
    )
    # Past the runs' expiry (72 hours): whoever did not finish has expired.
    later = counts(runtime, campaign_id, datetime.now(UTC) + timedelta(hours=73))
    assert (later.completed, later.expired, later.answering) == (1, 3, 0)


def test_a_household_that_declines_has_not_started_and_a_campaign_ends_with_its_runs(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    declines, completes = numbers(2)
    campaign_id, _ = new_campaign(runtime, [declines, completes])
    change(runtime, start_campaign, campaign_id)
    work(runtime, FakeClock(MORNING))
    campaign = the_campaign(runtime, campaign_id)
    assert campaign.status is CampaignStatus.COMPLETED  # every invitation is out
    assert shown_status(campaign, counts(runtime, campaign_id).answering) == "sending_done"

    SmsPhone(client, runtime, run_jobs, number=declines).send("2")
    for answer in SMS_SURVEY:
        SmsPhone(client, runtime, run_jobs, number=completes).send(answer)

    now = counts(runtime, campaign_id)
    assert (now.started, now.completed, now.declined, now.answering) == (1, 1, 1, 0)
    assert shown_status(campaign, now.answering) == "completed"


def test_a_number_that_stops_before_its_turn_is_not_invited(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    stays, leaves = numbers(2)
    campaign_id, _ = new_campaign(runtime, [stays, leaves])
    SmsPhone(client, runtime, run_jobs, number=leaves).send("STOP")

    change(runtime, start_campaign, campaign_id)
    work(runtime, FakeClock(MORNING))

    assert list(invitations(runtime)) == [runtime.services.pseudonymise(stays)]
    assert counts(runtime, campaign_id) == Progress(contacts=2, sent=1, answering=1, opted_out=1)


# --- restarts and races -----------------------------------------------------------------------


def test_fan_out_jobs_run_twice_or_together_invite_each_number_once(runtime: Runtime) -> None:
    campaign_id, _ = new_campaign(runtime, numbers(30))
    clock = FakeClock(MORNING)
    with runtime.sessions.begin() as session:
        start_campaign(session, campaign_id, actor=CLI_ACTOR)
    # Three fan-out jobs queued by hand, as duplicates would be (RQ retrying a job, say), while
    # a worker that died mid-batch still holds the campaign's lock.
    for _ in range(3):
        runtime.queue.enqueue("workers.campaigns.fan_out", campaign_id)
    dead = runtime.redis.lock(f"sg:campaign:{campaign_id}:fan-out", timeout=60)
    assert dead.acquire(blocking=False)
    work(runtime, clock)

    assert invitations(runtime) == {}
    # All three found the lock held; between them they left one job to look again later.
    (retry,) = due_reminders(runtime, "fan-out-")

    runtime.redis.delete(f"sg:campaign:{campaign_id}:fan-out")  # the dead worker's lock expires
    work(runtime, clock)

    sent = invitations(runtime)
    assert len(sent) == 30 and set(sent.values()) == {1}
    assert the_campaign(runtime, campaign_id).status is CampaignStatus.COMPLETED
    assert due_reminders(runtime, "fan-out-") == []  # and the chain of jobs ended


def test_a_worker_killed_mid_batch_loses_and_repeats_nothing(runtime: Runtime) -> None:
    campaign_id, _ = new_campaign(runtime, numbers(10))
    clock = FakeClock(MORNING)
    change(runtime, start_campaign, campaign_id)
    work(runtime, clock)
    before = contacts_of(runtime, campaign_id)
    # Put things back as a worker killed mid-batch leaves them: contacts 1 and 2 claimed and
    # never reached, contacts 3 to 10 invited (run started, reply queued) but not yet marked.
    never_reached = [c.respondent_id for c in before[:2]]
    with runtime.sessions.begin() as session:
        session.execute(delete(Message).where(Message.respondent_id.in_(never_reached)))
        session.execute(
            update(CampaignContact)
            .where(CampaignContact.campaign_id == campaign_id)
            .values(status=ContactStatus.SENDING, run_id=None, message_id=None, sent_at=None)
        )
        session.execute(
            update(Campaign).where(Campaign.id == campaign_id).values(status=CampaignStatus.RUNNING)
        )
    for respondent in never_reached:
        runtime.store.forget(respondent)

    CampaignJobs(runtime.queue).fan_out(campaign_id)  # RQ retrying the killed job
    work(runtime, clock)

    sent = invitations(runtime)
    assert len(sent) == 10 and set(sent.values()) == {1}
    after = contacts_of(runtime, campaign_id)
    assert all(c.status is ContactStatus.SENT for c in after)
    # Those invited before keep the run they were invited to; the two others got theirs now.
    assert [a.run_id == b.run_id for a, b in zip(after, before, strict=True)] == [False] * 2 + [
        True
    ] * 8
    assert the_campaign(runtime, campaign_id).status is CampaignStatus.COMPLETED


def test_a_worker_starting_up_resumes_a_campaign_whose_fan_out_died_with_its_worker(
    runtime: Runtime,
) -> None:
    campaign_id, _ = new_campaign(runtime, numbers(5))
    waiting_id, _ = new_campaign(runtime, numbers(3, first=20))
    clock = FakeClock(MORNING)
    change(runtime, start_campaign, campaign_id)
    # The worker running the campaign's only fan-out job is killed: the job had started (so
    # is no longer marked as waiting) and is gone from the queue; RQ will hand it back only
    # once its timeout has passed.
    runtime.queue.empty()
    runtime.redis.delete(pending_key(campaign_id))
    with runtime.sessions.begin() as session:
        start_campaign(session, waiting_id, actor=CLI_ACTOR)
    CampaignJobs(runtime.queue).fan_out(waiting_id)  # this one's job still waits

    with runtime.sessions() as session:
        resumed = CampaignJobs(runtime.queue).resume_running(session)
        again = CampaignJobs(runtime.queue).resume_running(session)
    work(runtime, clock)

    assert resumed == [campaign_id] and again == []
    sent = invitations(runtime)
    assert len(sent) == 8 and set(sent.values()) == {1}
    assert the_campaign(runtime, campaign_id).status is CampaignStatus.COMPLETED
    assert the_campaign(runtime, waiting_id).status is CampaignStatus.COMPLETED


def contacts_of(runtime: Runtime, campaign_id: str) -> list[CampaignContact]:
    with runtime.sessions() as session:
        return list(
            session.scalars(
                select(CampaignContact)
                .where(CampaignContact.campaign_id == campaign_id)
                .order_by(CampaignContact.id)
            )
        )


# --- reminders --------------------------------------------------------------------------------


def due_reminders(runtime: Runtime, prefix: str = "remind-") -> list[str]:
    """Hand every planned reminder to the workers now, as when they fall due."""
    if prefix == "remind-":
        return make_reminders_due(runtime)  # a run's SMS reminder waits in live state
    registry = ScheduledJobRegistry(queue=runtime.queue)
    due = [job_id for job_id in registry.get_job_ids() if job_id.startswith(prefix)]
    for job_id in due:
        registry.remove(job_id)
        runtime.queue.enqueue_job(Job.fetch(job_id, connection=runtime.redis))
    return due


def test_reminders_follow_the_campaign_and_reach_only_those_who_have_not_completed(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    audience = numbers(2)
    finishes, silent = (SmsPhone(client, runtime, run_jobs, number=n) for n in audience)
    campaign_id, _ = new_campaign(runtime, audience, reminder_count=1, reminder_interval_hours=6)
    before = datetime.now(UTC)
    change(runtime, start_campaign, campaign_id)
    work(runtime, FakeClock(MORNING))
    after = datetime.now(UTC)
    assert finishes.replies() == silent.replies() == [CONSENT_FR]
    for answer in SMS_SURVEY:
        finishes.send(answer)

    # The campaign's interval (6 hours), not the flow's (24).
    silent_run = contacts_of(runtime, campaign_id)[1].run_id
    due, _ = pending_reminders(runtime)[silent_run]
    assert before + timedelta(hours=6) - timedelta(seconds=1) <= due <= after + timedelta(hours=6)

    due_reminders(runtime)
    assert finishes.replies() == []
    assert silent.replies() == [
        "Rappel OIM/DNDS: le sondage sur les ménages déplacés attend votre réponse. "
        "Répondez à la dernière question ou STOP pour quitter."
    ]
    due_reminders(runtime)
    assert silent.replies() == []  # one reminder, as the campaign says (the flow says two)


def test_cancelling_stops_the_reminders_and_pausing_the_invitations(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    first, second = numbers(2), numbers(2, first=50)
    clock = FakeClock(MORNING)
    cancelled, _ = new_campaign(runtime, first)
    change(runtime, start_campaign, cancelled)
    work(runtime, clock)
    assert len(invitations(runtime)) == 2
    change(runtime, cancel_campaign, cancelled)
    work(runtime, clock)
    due_reminders(runtime)
    work(runtime, clock)
    with runtime.sessions() as session:
        assert session.scalars(select(Message).where(Message.kind == "reminder")).all() == []

    paused, _ = new_campaign(runtime, second)
    change(runtime, start_campaign, paused)
    change(runtime, pause_campaign, paused)
    work(runtime, clock)
    assert len(invitations(runtime)) == 2  # nothing more while paused
    assert counts(runtime, paused).queued == 2
    change(runtime, resume_campaign, paused)
    work(runtime, clock)
    assert len(invitations(runtime)) == 4
    assert the_campaign(runtime, paused).status is CampaignStatus.COMPLETED


# --- USSD campaigns ---------------------------------------------------------------------------


def test_a_ussd_campaign_invites_households_to_dial_and_reminds_those_who_did_not(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    audience = numbers(2)
    dials, waits = (SmsPhone(client, runtime, run_jobs, number=n) for n in audience)
    campaign_id, _ = new_campaign(
        runtime, audience, channel="ussd", reminder_count=1, reminder_interval_hours=24
    )
    change(runtime, start_campaign, campaign_id)
    work(runtime, FakeClock(MORNING))
    assert dials.replies() == waits.replies() == [INVITATION_FR]

    handset = Phone(client, number=audience[0])
    handset.dial()
    assert handset.answer_all(FULL_SURVEY_RETURN)[-1].startswith("END Merci.")
    dials.replies()  # the confirmation

    progress_now = counts(runtime, campaign_id)
    assert (progress_now.sent, progress_now.started, progress_now.completed) == (2, 1, 1)
    assert contacts_of(runtime, campaign_id)[0].run_id is not None  # the run it led to
    # One reminder each, the next day at the same hour (inside the window).
    registry = ScheduledJobRegistry(queue=runtime.queue)
    reminders = [j for j in registry.get_job_ids() if j.startswith("campaign-remind-")]
    assert len(reminders) == 2
    assert {registry.get_scheduled_time(j) for j in reminders} == {MORNING + timedelta(days=1)}

    due_reminders(runtime, "campaign-remind-")
    work(runtime, FakeClock(MORNING + timedelta(days=1)))
    assert dials.replies() == []
    assert waits.replies() == [INVITATION_FR]


# --- rules ------------------------------------------------------------------------------------


def test_state_changes_are_idempotent_and_refusals_say_what_to_do(runtime: Runtime) -> None:
    empty, _ = new_campaign(runtime)
    with pytest.raises(CampaignError, match="no contacts yet: import an audience first"):
        change(runtime, start_campaign, empty)
    with pytest.raises(CampaignError, match="has not started: nothing to pause"):
        change(runtime, pause_campaign, empty)

    campaign_id, _ = new_campaign(runtime, numbers(1))
    statuses = [
        change(runtime, action, campaign_id).status
        for action in (
            start_campaign,
            start_campaign,
            pause_campaign,
            pause_campaign,
            resume_campaign,
            cancel_campaign,
            cancel_campaign,
        )
    ]
    assert statuses == ["running", "running", "paused", "paused", "running", "cancelled"] + [
        "cancelled"
    ]
    with pytest.raises(CampaignError, match="was cancelled and cannot start again"):
        change(runtime, start_campaign, campaign_id)
    with runtime.sessions() as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.object_id == campaign_id)
        ).all()
    # Each change is audited once; repeating one changes (and audits) nothing.
    assert actions == [
        "campaign.create",
        "campaign.import",
        "campaign.start",
        "campaign.pause",
        "campaign.resume",
        "campaign.cancel",
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"flow": "census"}, "there is no flow 'census'"),
        ({"channel": "whatsapp"}, "the channel must be sms or ussd"),
        ({"window": "19:00-08:00"}, "must open before it closes"),
        ({"window": "8h-19h"}, "is not like 08:00-19:00"),
        ({"timezone": "Mars/Olympus"}, "is not a time zone name"),
        ({"throttle": 100}, "the throttle is 0.1 to 50 messages a second"),
        ({"reminder_count": 9}, "reminders must be from 0 to 5"),
        ({"flow": "enumerator_registration", "channel": "ussd"}, "use --channel sms"),
        ({"name": "  "}, "a campaign needs a name"),
        ({"start_at": datetime(9999, 12, 31, 23, 0)}, "too far ahead: a campaign starts within"),
    ],
)
def test_a_campaign_that_cannot_work_is_refused(
    runtime: Runtime, options: dict[str, object], message: str
) -> None:
    with pytest.raises(CampaignError, match=message):
        new_campaign(runtime, **options)
    with runtime.sessions() as session:
        assert session.scalars(select(Campaign)).all() == []


def test_a_start_past_next_year_is_refused_by_the_api(
    client: FlaskClient, runtime: Runtime
) -> None:
    token = api_tokens(runtime)["manager"]
    body = {
        "name": "Gao",
        "flow": "return_intention",
        "channel": "sms",
        "contacts": [{"phone": n} for n in numbers(2)],
    }

    for start in ("9999-12-31T23:00:00", "9999-12-31T23:00:00-05:00", "2099-01-01T08:00:00"):
        refused = client.post("/api/v1/campaigns", json=body | {"start_at": start}, headers=token)
        assert refused.status_code == 422, refused.get_json()
        assert (
            "is too far ahead: a campaign starts within 365 days" in refused.get_json()["message"]
        )
    with runtime.sessions() as session:
        assert session.scalars(select(Campaign)).all() == []

    soon = (datetime.now(UTC) + timedelta(days=300)).replace(tzinfo=None).isoformat()
    made = client.post("/api/v1/campaigns", json=body | {"start_at": soon}, headers=token)
    assert made.status_code == 202, made.get_json()  # accepted: a worker imports the list


def test_a_campaign_stored_to_start_at_the_end_of_time_waits_without_failing(
    runtime: Runtime,
) -> None:
    campaign_id, _ = new_campaign(runtime, numbers(3))
    with runtime.sessions.begin() as session:
        # As a campaign created before starts were bounded may have been stored.
        session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id)
            .values(start_at=datetime(9999, 12, 31, 23, 0, tzinfo=UTC))
        )
    change(runtime, start_campaign, campaign_id)

    work(runtime, FakeClock(MORNING))

    assert invitations(runtime) == {}
    assert FailedJobRegistry(queue=runtime.queue).get_job_ids() == []
    registry = ScheduledJobRegistry(queue=runtime.queue)
    (job_id,) = [j for j in registry.get_job_ids() if not j.startswith("remind-")]
    # Waiting for its start, not a retry minutes away after failing on it.
    assert registry.get_scheduled_time(job_id).year == 9999
    assert the_campaign(runtime, campaign_id).status is CampaignStatus.RUNNING


# --- a long list ------------------------------------------------------------------------------


def import_peak(runtime: Runtime, tmp_path: Path, rows: int) -> int:
    """Import a CSV list of ``rows`` numbers into a new campaign; the peak memory it took."""
    path = tmp_path / f"audience-{rows}.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("phone,language,region\n")
        for number in numbers(rows, first=100_000 * (rows % 7)):
            out.write(f"{number},fr,Mopti\n")
    campaign_id, _ = new_campaign(runtime)
    tracemalloc.start()
    try:
        with runtime.sessions.begin() as session, path.open("rb") as stream:
            campaign = session.get(Campaign, campaign_id)
            assert campaign is not None
            report = import_audience(session, runtime, campaign, csv_rows(stream), actor=CLI_ACTOR)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.accepted == rows
    assert counts(runtime, campaign_id).contacts == rows
    return peak


def test_a_long_list_is_imported_in_memory_that_does_not_grow_with_it(
    runtime: Runtime, tmp_path: Path
) -> None:
    # tracemalloc slows Python down several times over, so the lists here are short: four times
    # the rows must not take more memory (a chunk of 1,000 at a time). `python -m
    # tests.bench_campaigns` imports 100,000 rows and checks the peak stays under 50 MB.
    short = import_peak(runtime, tmp_path, 1_500)
    long = import_peak(runtime, tmp_path, 6_000)
    assert long < 1.5 * short
    assert long < 10 * 1024 * 1024


# --- the API ----------------------------------------------------------------------------------


def api_tokens(runtime: Runtime) -> dict[str, dict[str, str]]:
    """Bearer headers of a viewer and a manager token."""
    headers = {}
    with runtime.sessions.begin() as session:
        for role in (Role.VIEWER, Role.MANAGER):
            secret = create_token(session, name=role.value, role=role, actor=CLI_ACTOR).secret
            headers[role.value] = {"Authorization": f"Bearer {secret}"}
    return headers


REPORT_FIELDS = ("rows_read", "accepted", "duplicates", "opted_out", "invalid_count", "invalid")


def test_managers_run_campaigns_through_the_api_and_viewers_follow_them(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    token = api_tokens(runtime)
    body = {
        "name": "Gao, avril",
        "flow": "return_intention",
        "channel": "sms",
        "window": "09:00-18:00",
        "throttle": 2,
        "contacts": [{"phone": n} for n in numbers(3)] + [{"phone": "76 12"}],
    }
    assert client.post("/api/v1/campaigns", json=body, headers=token["viewer"]).status_code == 403

    created = client.post("/api/v1/campaigns", json=body, headers=token["manager"])
    assert created.status_code == 202, created.get_json()
    answer = created.get_json()
    assert answer["import"]["status"] == "queued"
    campaign = answer["campaign"]
    assert (campaign["status"], campaign["window"], campaign["throttle"]) == (
        "draft",
        "09:00-18:00",
        2.0,
    )
    campaign_id = campaign["id"]
    follow = created.headers["Location"]
    assert follow == f"/api/v1/campaigns/{campaign_id}/imports/{answer['import']['id']}"
    early = client.post(f"/api/v1/campaigns/{campaign_id}/start", headers=token["manager"])
    assert early.status_code == 409
    assert "is being imported" in early.get_json()["message"]

    run_jobs()
    done = client.get(follow, headers=token["viewer"]).get_json()
    assert (done["status"], done["problem"]) == ("done", None)
    assert {name: done[name] for name in REPORT_FIELDS} == {
        "rows_read": 4,
        "accepted": 3,
        "duplicates": 0,
        "opted_out": 0,
        "invalid_count": 1,
        "invalid": [{"row_number": 4, "reason": "not a phone number (**12)"}],
    }

    started = client.post(f"/api/v1/campaigns/{campaign_id}/start", headers=token["manager"])
    assert started.status_code == 200
    assert (started.get_json()["changed"], started.get_json()["campaign"]["status"]) == (
        True,
        "running",
    )
    again = client.post(f"/api/v1/campaigns/{campaign_id[:8]}/start", headers=token["manager"])
    assert again.get_json()["changed"] is False
    assert runtime.queue.count == 1  # one fan-out job waits, however often it is started

    listing = client.get("/api/v1/campaigns", headers=token["viewer"]).get_json()
    assert [(c["campaign"]["id"], c["contacts"], c["invited"]) for c in listing] == [
        (campaign_id, 3, 0)
    ]
    detail = client.get(f"/api/v1/campaigns/{campaign_id}", headers=token["viewer"]).get_json()
    assert detail["progress"]["queued"] == 3

    client.post(f"/api/v1/campaigns/{campaign_id}/cancel", headers=token["manager"])
    refused = client.post(f"/api/v1/campaigns/{campaign_id}/resume", headers=token["manager"])
    assert refused.status_code == 409
    assert "was cancelled and cannot resume again" in refused.get_json()["message"]
    with runtime.sessions() as session:
        audited = session.scalars(
            select(AuditEvent.actor).where(AuditEvent.object_id == campaign_id)
        ).all()
    assert set(audited) == {"token:manager"} and len(audited) == 4  # create, import, start, cancel


def test_a_csv_list_can_be_uploaded_and_its_mistakes_come_back_by_row(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    token = api_tokens(runtime)
    # Far above the 16 kB the gateway takes in any other request.
    rows = "".join(f"{n};fr;Mopti\n" for n in numbers(2000)) + "not a number;fr;\n"
    form = {
        "name": "Mopti, mai",
        "flow": "return_intention",
        "channel": "ussd",
        "audience": (io.BytesIO(f"telephone;langue;region\n{rows}".encode()), "liste.csv"),
    }
    created = client.post(
        "/api/v1/campaigns", data=form, headers=token["manager"], content_type="multipart/form-data"
    )
    assert created.status_code == 202, created.get_json()
    run_jobs()
    report = client.get(created.headers["Location"], headers=token["manager"]).get_json()
    assert (report["status"], report["rows_read"], report["accepted"], report["invalid"]) == (
        "done",
        2001,
        2000,
        [{"row_number": 2002, "reason": "not a phone number (no digits)"}],
    )

    bad = client.post(
        "/api/v1/campaigns",
        json={"name": "x", "flow": "return_intention", "channel": "sms", "window": "20-8"},
        headers=token["manager"],
    )
    assert bad.status_code == 422
    assert "contacts" in bad.get_json()["message"]
    bad = client.post(
        "/api/v1/campaigns",
        json={
            "name": "x",
            "flow": "return_intention",
            "channel": "sms",
            "window": "20:00-08:00",
            "contacts": [{"phone": numbers(1)[0]}],
        },
        headers=token["manager"],
    )
    assert bad.status_code == 422
    assert "must open before it closes" in bad.get_json()["message"]


# --- the command ------------------------------------------------------------------------------


def staff(runtime: Runtime, *args: str) -> Result:
    """Run ``survey-gateway campaign ...`` as staff at the server's terminal would."""
    env: dict[str, str | None] = {
        name: None
        for name in os.environ
        if name.startswith(("GATEWAY_", "AT_")) or name in ("REDIS_URL", "DATABASE_URL")
    }
    env.update(
        {
            "GATEWAY_VAR_DIR": str(runtime.settings.var_dir),
            "DATABASE_URL": runtime.settings.database_url,
            "REDIS_URL": url_of(runtime.redis),
        }
    )
    return CliRunner().invoke(campaign, list(args), env=env, catch_exceptions=False)


def test_staff_run_a_campaign_from_the_terminal(runtime: Runtime, tmp_path: Path) -> None:
    audience = tmp_path / "liste.csv"
    first, second = numbers(2)
    audience.write_text(f"phone,region\n{first},Gao\n{second},Gao\n{first},Gao\n76 1,Gao\n")

    created = staff(
        runtime,
        "create",
        "--name",
        "Gao, juin",
        "--flow",
        "return_intention",
        "--channel",
        "sms",
        "--audience",
        str(audience),
        "--throttle",
        "10",
        "--reminders",
        "1",
    )
    assert created.exit_code == 0, created.output
    short = created.output.split()[1]
    assert created.output == (
        f'Campaign {short} created (draft): "Gao, juin", return_intention by sms, '
        "08:00-19:00 Africa/Bamako, 10/s\n"
        "Audience: 2 accepted, 1 duplicate(s) dropped, 0 opted out (left out), 1 invalid row(s).\n"
        "  row 5: not a phone number (*61)\n"
        f"Start it with: survey-gateway campaign start {short}\n"
    )
    assert first[-6:] not in created.output and second[-6:] not in created.output

    assert (
        staff(runtime, "start", short).output == f"Campaign {short} running (draft -> running).\n"
    )
    assert staff(runtime, "start", short).output == f"Campaign {short} running (unchanged).\n"
    work(runtime, FakeClock(MORNING))

    status = staff(runtime, "status", short).output.splitlines()
    # Every invitation is out, but the households may still answer: not over yet.
    assert status[0].startswith(f"Campaign {short} sending done:")
    assert "  sent             2" in status and "  contacts         2" in status
    assert "  answering        2  (invited and may still answer: reminders may still go)" in status
    assert "  skipped          0" in status  # explained only where it counts someone
    assert status[-1] == (
        "Numbers not in the campaign at all (duplicates, invalid rows, numbers that had sent "
        "STOP before the import) are in the report of each import."
    )
    listing = staff(runtime, "list").output.splitlines()
    assert listing[0].split() == [
        "ID",
        "STATUS",
        "CHANNEL",
        "FLOW",
        "CONTACTS",
        "INVITED",
        "CREATED",
        "(UTC)",
        "NAME",
    ]
    assert listing[1].split()[:7] == [short, "sending", "done", "sms", "return_intention", "2", "2"]

    refused = staff(runtime, "resume", short)
    assert refused.exit_code == 1
    assert "is completed: every contact was invited" in refused.output
    unknown = staff(runtime, "status", "feedbeef")
    assert unknown.exit_code == 1 and "no campaign has the id 'feedbeef'" in unknown.output


def test_the_terminal_imports_through_the_workers_import_and_waits_for_one_under_way(
    client: FlaskClient, runtime: Runtime, tmp_path: Path
) -> None:
    token = api_tokens(runtime)
    audience = tmp_path / "liste.csv"
    audience.write_bytes(
        f"phone\n{numbers(1)[0]}\n".encode() + b"\x81\n"
    )  # neither UTF-8 nor Windows-1252
    form = {**{"name": "Gao", "flow": "return_intention", "channel": "sms"}}
    form["audience"] = (io.BytesIO(f"phone\n{numbers(1, 5)[0]}\n".encode()), "liste.csv")
    queued = client.post(
        "/api/v1/campaigns", data=form, headers=token["manager"], content_type="multipart/form-data"
    )
    short = queued.get_json()["campaign"]["id"][:8]

    start = staff(runtime, "start", short)
    broken = staff(runtime, "import", short, str(audience))

    assert start.exit_code == 1
    assert "the list of campaign 'Gao' is being imported: start it once the import" in start.output
    assert broken.exit_code == 1
    assert "The list was not imported: row " in broken.output
    assert "is not UTF-8 text" in broken.output
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(CampaignContact)) == 0


def test_a_fan_out_holds_its_campaign_only_seconds_past_its_last_renewal(
    runtime: Runtime,
) -> None:
    # What a worker killed mid-batch leaves behind: a hold that lapses within LOCK_TIMEOUT_S
    # (then the next fan-out job takes over), not one that stalls the campaign for minutes.
    from workers.campaigns import LOCK_TIMEOUT_S

    campaign_id, _ = new_campaign(runtime, numbers(12), throttle=2)
    change(runtime, start_campaign, campaign_id)
    holds: list[int] = []

    class WatchingClock(FakeClock):
        def sleep(self, seconds: float) -> None:
            holds.append(runtime.redis.pttl(f"sg:campaign:{campaign_id}:fan-out"))
            super().sleep(seconds)

    work(runtime, WatchingClock(MORNING))

    during_batches = [hold for hold in holds if hold > 0]  # sends sleep too, without a hold
    assert LOCK_TIMEOUT_S <= 30
    assert during_batches and max(during_batches) <= LOCK_TIMEOUT_S * 1000
    assert counts(runtime, campaign_id).sent == 12
