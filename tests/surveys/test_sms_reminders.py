"""The SMS reminders as the workers send them: in the household's language, as many as the
survey says, never to a number that sent STOP nor for a question no longer waiting, and the
due-reminders job taking each due one once, however many there are, one worker at a time."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from rq.registry import FailedJobRegistry
from sqlalchemy import select

from gateway.core import job_names
from gateway.core.runtime import Runtime
from gateway.messaging.models import Message
from gateway.surveys.pending_work import REMINDER_STEPS_KEY, REMINDERS_KEY
from tests.phone import SmsPhone
from tests.reminders import bring_reminders_due, make_reminders_due, pending_reminders, time_limit
from workers import reminders
from workers.reminders import REMINDERS_LOCK, send_due_reminders

REMINDER_FR = (
    "Rappel OIM/DNDS: le sondage sur les ménages déplacés attend votre réponse. "
    "Répondez à la dernière question ou STOP pour quitter."
)
REMINDER_EN = (
    "IOM/DNDS reminder: the displaced households survey is waiting for your answer. "
    "Reply to the last question or STOP to quit."
)


def households(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int], count: int
) -> list[SmsPhone]:
    return [SmsPhone(client, runtime, run_jobs, number=f"+2237650{i:04d}") for i in range(count)]


def kinds_sent(runtime: Runtime, phone: SmsPhone) -> list[str]:
    """The kind of each message the outbox holds for ``phone``, oldest first."""
    respondent = runtime.services.pseudonymise(phone.number)
    with runtime.sessions() as session:
        return list(
            session.scalars(
                select(Message.kind)
                .where(Message.respondent_id == respondent)
                .order_by(Message.created_at)
            )
        )


def test_reminders_speak_the_household_s_language_and_stop_at_the_survey_s_count(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    (english,) = households(client, runtime, run_jobs, 1)
    assert english.send("EN") == ["Language: English."]
    assert english.send("survey")[0].startswith("IOM/DNDS: free, voluntary survey")

    for _ in range(2):  # the survey's two reminders
        make_reminders_due(runtime)
        assert english.replies() == [REMINDER_EN]
    assert pending_reminders(runtime) == {}  # none planned after the last
    assert kinds_sent(runtime, english) == ["language", "question", "reminder", "reminder"]


def test_a_household_that_sent_stop_gets_no_reminder(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    stops, waits = households(client, runtime, run_jobs, 2)
    for phone in (stops, waits):
        phone.send("ENQUETE")
    assert stops.send("STOP") == ["Merci. Vous ne recevrez plus de messages de ce sondage."]
    assert len(pending_reminders(runtime)) == 2  # STOP leaves the run; the reminder checks

    make_reminders_due(runtime)
    assert stops.replies() == []
    assert waits.replies() == [REMINDER_FR]


def test_a_queued_reminder_of_a_question_answered_a_survey_declined_or_erased_is_not_sent(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    answers, declines, erases = households(client, runtime, run_jobs, 3)
    runs = []
    for phone in (answers, declines, erases):
        phone.send("ENQUETE")
        (run_id,) = set(pending_reminders(runtime)) - set(runs)
        runs.append(run_id)
    assert answers.send("1")[0].startswith("Région où vit votre ménage")
    declines.send("2")
    erases.send("EFFACER")  # its confirmation is sent, not kept in the outbox
    assert runtime.store.load_run(runs[2]) is None

    # Jobs of the consent question (step 0), as a release that queued one per question left
    # them; and one of the question the household is now on (step 1), which still goes.
    for run_id in runs:
        runtime.queue.enqueue(job_names.REMIND, run_id, 0, 1)
    assert answers.replies() == declines.replies() == erases.replies() == []
    runtime.queue.enqueue(job_names.REMIND, runs[0], 1, 1)
    assert answers.replies() == [REMINDER_FR]
    assert FailedJobRegistry(queue=runtime.queue).get_job_ids() == []


def test_the_due_reminders_job_takes_every_due_one_batch_by_batch_and_counts_them(
    client: FlaskClient,
    runtime: Runtime,
    run_jobs: Callable[..., int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reminders, "BATCH", 2)  # three batches for five households
    waiting = households(client, runtime, run_jobs, 4)
    for phone in waiting:
        phone.send("ENQUETE")
    declined = SmsPhone(client, runtime, run_jobs, number="+22376509999")
    declined.send("ENQUETE")
    declined.send("2")  # its reminder stays planned, and is dropped when due: nothing to send
    assert len(pending_reminders(runtime)) == 5

    bring_reminders_due(runtime)
    with time_limit(30):
        assert send_due_reminders() == 5
    for phone in waiting:
        assert phone.replies() == [REMINDER_FR]
    assert declined.replies() == []
    # Each taken reminder is gone; each waiting household has its second one planned.
    assert sorted(which for _, which in pending_reminders(runtime).values()) == ["0:2"] * 4
    with time_limit(30):
        assert send_due_reminders() == 0  # none due until the interval has passed


def test_while_another_worker_sends_the_due_reminders_the_job_gives_way_at_once(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    (phone,) = households(client, runtime, run_jobs, 1)
    phone.send("ENQUETE")
    bring_reminders_due(runtime)
    other_worker = runtime.redis.lock(REMINDERS_LOCK, timeout=0.5)
    assert other_worker.acquire(blocking=False)

    assert send_due_reminders() == 0
    assert phone.replies() == []
    time.sleep(0.6)  # that worker died: its hold lapses, and the reminder is sent after all
    assert send_due_reminders() == 1
    assert phone.replies() == [REMINDER_FR]


def test_a_due_reminder_whose_question_was_lost_is_dropped_without_failing(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    lost, kept = households(client, runtime, run_jobs, 2)
    lost.send("ENQUETE")
    lost.send("1")  # on the region question (step 1) now
    (run_id,) = pending_reminders(runtime)
    kept.send("ENQUETE")
    bring_reminders_due(runtime)
    # Due, its question lost: an entry of the form a due time alone, its step kept aside in
    # a hash that a partly restored Redis no longer holds.
    runtime.redis.zadd(REMINDERS_KEY, {run_id: time.time() - 1})
    runtime.redis.hdel(REMINDER_STEPS_KEY, run_id)

    with time_limit(30):
        assert send_due_reminders() == 2
    lost.replies()
    assert kinds_sent(runtime, lost) == ["question", "question"]  # no reminder of an unknown step
    assert kept.replies() == [REMINDER_FR]
    assert run_id not in pending_reminders(runtime)
