"""Answers are stored in batches: a step marks its run, one drain job stores every marked run.

What a household sees is unchanged (the screens, the confirmation SMS); what changes is the
grain of the work: no job per step, one entry per run in Redis, one transaction per batch.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from datetime import timedelta

from flask.testing import FlaskClient
from rq.registry import ScheduledJobRegistry
from sqlalchemy import func, select

from gateway.core.outage import Outage
from gateway.core.runtime import Runtime
from gateway.processes.worker import GatewayWorker
from gateway.surveys.live_batch import DIRTY_KEY, DRAIN_DUE_KEY
from gateway.surveys.live_records import run_json, run_raw
from gateway.surveys.models import StoredAnswer, Submission, SubmissionStatus
from gateway.surveys.pending_work import dirty_runs, stored
from tests.phone import FULL_SURVEY_RETURN, Phone, SmsPhone
from tests.reminders import make_reminders_due, pending_reminders
from workers.recovery import restore_live_state
from workers.reminders import ask_for_reminders
from workers.storage import ask_for_drain

HOUSEHOLDS = 12


def households_answer(client: FlaskClient, count: int, first: int = 0) -> list[Phone]:
    phones = [Phone(client, number=f"+2237612{first + n:04d}") for n in range(count)]
    for phone in phones:
        phone.dial()
        assert phone.answer_all(FULL_SURVEY_RETURN)[-1].startswith("END Merci")
    return phones


def completed(runtime: Runtime) -> tuple[int, int]:
    """Completed submissions and their answers in the database."""
    with runtime.sessions() as session:
        submissions = session.scalar(
            select(func.count())
            .select_from(Submission)
            .where(Submission.status == SubmissionStatus.COMPLETED)
        )
        answers = session.scalar(select(func.count()).select_from(StoredAnswer))
    return int(submissions or 0), int(answers or 0)


def test_many_households_answering_queue_one_drain_that_stores_them_all(
    client: FlaskClient,
    runtime: Runtime,
    run_jobs: Callable[..., int],
    outbox_stream: io.StringIO,
) -> None:
    households_answer(client, HOUSEHOLDS)

    # 9 steps each, 108 in all: one job waits, and one entry per run.
    assert [job.func_name for job in runtime.queue.get_jobs()] == ["workers.storage.drain_runs"]
    assert runtime.redis.zcard(DIRTY_KEY) == HOUSEHOLDS
    assert completed(runtime) == (0, 0)

    run_jobs()
    assert completed(runtime) == (HOUSEHOLDS, HOUSEHOLDS * len(FULL_SURVEY_RETURN))
    assert runtime.redis.zcard(DIRTY_KEY) == 0
    assert outbox_stream.getvalue().count("vos reponses sont enregistrees") == HOUSEHOLDS


def test_a_run_that_changed_again_while_stored_stays_marked(
    client: FlaskClient, runtime: Runtime
) -> None:
    households_answer(client, 1)
    marks = dirty_runs(runtime.redis, 10)  # what a drain takes, then stores
    ((run_id, _),) = marks
    time.sleep(0.002)
    runtime.store.mark_dirty(run_id, runtime.jobs.drain)  # meanwhile, a later step of the run

    stored(runtime.redis, marks)  # what the drain read is stored; the newer change is not
    assert [run for run, _ in dirty_runs(runtime.redis, 10)] == [run_id]


def test_a_run_that_cannot_be_stored_does_not_hold_back_the_others(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    households_answer(client, 3)
    (run_id, _), *_ = dirty_runs(runtime.redis, 10)
    record = run_json(runtime.redis.get(f"sg:run:{run_id}") or b"{}")
    record["state"]["flow_id"] = "retired_flow"  # a flow this gateway no longer has
    runtime.redis.set(f"sg:run:{run_id}", run_raw(record))

    run_jobs()

    assert completed(runtime) == (2, 2 * len(FULL_SURVEY_RETURN))
    # Left marked, for a later try, not dropped: nothing confirmed is lost.
    ((left, when),) = runtime.redis.zrange(DIRTY_KEY, 0, -1, withscores=True)
    assert left.decode() == run_id and when > time.time() * 1000


def test_runs_whose_drain_was_lost_are_stored_at_the_next_maintenance(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    households_answer(client, 2)
    runtime.queue.empty()  # the drain job lost (a worker killed with it, say)
    run_jobs()
    assert completed(runtime) == (0, 0)
    assert ask_for_drain(runtime) is False  # a drain is said to be due: not yet

    # A minute later, still marked: whatever was due is not coming.
    marks = dirty_runs(runtime.redis, 10)
    runtime.redis.zadd(DIRTY_KEY, {run_id: score - 60_000 for run_id, score in marks})
    assert ask_for_drain(runtime) is True
    run_jobs()
    assert completed(runtime) == (2, 2 * len(FULL_SURVEY_RETURN))
    assert runtime.redis.get(DRAIN_DUE_KEY) is None


def test_reminders_due_are_sent_from_maintenance_and_erasure_drops_them(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    waiting, erased = (
        SmsPhone(client, runtime, run_jobs, number=n) for n in ("+22376990001", "+22376990002")
    )
    for phone in (waiting, erased):
        phone.send("ENQUETE")
    assert len(pending_reminders(runtime)) == 2
    erased.send("EFFACER")
    erased.replies()
    assert len(pending_reminders(runtime)) == 1  # the erased household's went with it

    assert ask_for_reminders(runtime) is False  # none due yet
    make_reminders_due(runtime)
    runtime.queue.empty()  # as if the job were lost: maintenance asks again
    runtime.redis.delete("sg:reminders:due")
    assert ask_for_reminders(runtime) is True
    assert waiting.replies()[0].startswith("Rappel")


def test_a_workers_maintenance_asks_for_a_lost_drain_and_for_due_reminders(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    phone = SmsPhone(client, runtime, run_jobs, number="+22376990003")
    phone.send("ENQUETE")  # (the SMS phone runs the jobs as it goes)
    households_answer(client, 1)
    make_reminders_due(runtime)
    runtime.queue.empty()  # both jobs lost
    runtime.redis.delete("sg:reminders:due")
    marks = dirty_runs(runtime.redis, 10)
    runtime.redis.zadd(DIRTY_KEY, {run_id: score - 60_000 for run_id, score in marks})
    worker = GatewayWorker(
        [runtime.queue], connection=runtime.redis, outage=Outage("Redis", "test"), runtime=runtime
    )
    restore_live_state(runtime)  # as at a worker's start: the facts' copy is whole

    worker.run_maintenance_tasks()

    assert {job.func_name for job in runtime.queue.get_jobs()} >= {
        "workers.storage.drain_runs",
        "workers.reminders.send_due_reminders",
    }
    assert phone.replies()[-1].startswith("Rappel")
    assert completed(runtime)[0] == 1


def test_the_changes_of_a_second_wait_for_one_drain_together(
    client: FlaskClient, runtime: Runtime
) -> None:
    runtime.jobs.drain_delay = timedelta(seconds=1)  # the default outside tests
    households_answer(client, 3)

    (drain,) = ScheduledJobRegistry(queue=runtime.queue).get_job_ids()
    assert drain.startswith("drain-")
    assert runtime.queue.count == 0  # nothing to run before the second is up
    assert runtime.redis.zcard(DIRTY_KEY) == 3
