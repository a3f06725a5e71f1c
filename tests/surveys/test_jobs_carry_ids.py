"""Jobs carry ids, never numbers: key rotation and erasure reach queued work by construction.

RQ keeps a job's arguments in Redis while it waits, is retried, or lies among the failed jobs.
A number there would escape ``keys rotate`` (and fail to decrypt once the old key is gone) and
outlive an erasure. The number a queued reply goes to waits in the live store instead.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import replace

import redis
from cryptography.fernet import Fernet, InvalidToken
from flask.testing import FlaskClient
from rq import SimpleWorker
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from sqlalchemy import select

from gateway.campaigns.lifecycle import start_campaign
from gateway.core.crypto import NumberCipher
from gateway.core.runtime import Runtime
from gateway.core.settings import Settings
from gateway.messaging.models import Message, MessageStatus
from gateway.messaging.sender import ConsoleSender
from gateway.surveys.retention import rotate_keys
from gateway.web.app import create_app
from tests.campaigns.test_campaigns import change, new_campaign, numbers
from tests.enumerators.test_enumerators import (
    ENUMERATOR,
    HOUSEHOLD,
    HOUSEHOLD_TYPED,
    approved_code,
    register,
)
from tests.phone import Phone, SmsPhone
from workers.context import WorkerContext, install

NUMBER = "+22376123456"


def queued_jobs(runtime: Runtime) -> Iterator[Job]:
    """Every job RQ holds: waiting, scheduled (reminders, retries) and failed."""
    ids = set(runtime.queue.get_job_ids())
    ids |= set(ScheduledJobRegistry(queue=runtime.queue).get_job_ids())
    ids |= set(FailedJobRegistry(queue=runtime.queue).get_job_ids())
    for job_id in sorted(ids):
        job = runtime.queue.fetch_job(job_id)
        if job is not None:
            yield job


def numbers_in(text: str, cipher: NumberCipher) -> list[str]:
    """The numbers ``text`` gives away: in clear, or as a Fernet token a key opens."""
    found = [n for n in (NUMBER, HOUSEHOLD, ENUMERATOR) if n[4:] in text]
    for word in text.replace("'", " ").replace('"', " ").split():
        if word.startswith("gAAAAA"):
            try:
                found.append(cipher.decrypt(word))
            except InvalidToken:
                pass
    return found


def runtime_with_keys(settings: Settings, client: redis.Redis, keys: list[str]) -> Runtime:
    """Another process of the same gateway, configured with ``keys``."""
    other = replace(settings, encryption_keys=tuple(keys))
    rt: Runtime = create_app(other, client=client).extensions["gateway"]
    return rt


def work_as(runtime: Runtime) -> None:
    install(WorkerContext(runtime=runtime, sender=ConsoleSender(io.StringIO())))
    SimpleWorker([runtime.queue], connection=runtime.redis).work(burst=True)


def test_no_job_waiting_or_failed_holds_a_number(
    client: FlaskClient, runtime: Runtime, settings: Settings, run_jobs: Callable[..., int]
) -> None:
    sms = SmsPhone(client, runtime, run_jobs, number=NUMBER)
    sms.post("ENQUETE")
    sms.post("AIDE")
    sms.post("EFFACER")
    campaign_id, _ = new_campaign(runtime, numbers(3), channel="ussd")
    change(runtime, start_campaign, campaign_id)

    jobs = list(queued_jobs(runtime))
    assert {j.func_name for j in jobs} >= {
        "workers.sms.send_reply",
        "workers.sms.erase_respondent",
        "workers.campaigns.fan_out",
    }
    for job in jobs:
        assert numbers_in(repr((job.args, job.kwargs)), runtime.cipher) == [], job.func_name


def test_replies_queued_before_a_key_rotation_go_out_after_the_old_key_is_removed(
    client: FlaskClient, runtime: Runtime, settings: Settings, run_jobs: Callable[..., int]
) -> None:
    sms = SmsPhone(client, runtime, run_jobs, number=NUMBER)
    sms.post("ENQUETE")  # the first question waits in the queue

    new_key = Fernet.generate_key().decode()
    both = NumberCipher([new_key, *settings.encryption_keys])
    with runtime.sessions.begin() as session:
        rotate_keys(session, runtime.store, both)
    only_new = runtime_with_keys(settings, runtime.redis, [new_key])  # old key removed
    work_as(only_new)

    with only_new.sessions() as session:
        sent = session.scalars(select(Message)).one()
        assert (sent.kind, sent.status) == ("question", MessageStatus.RECORDED)
        assert only_new.cipher.decrypt(sent.to_encrypted) == NUMBER
    assert list(FailedJobRegistry(queue=only_new.queue).get_job_ids()) == []


def test_an_enumerators_session_is_rotated_with_the_household_it_surveys(
    client: FlaskClient, runtime: Runtime, settings: Settings, run_jobs: Callable[..., int]
) -> None:
    register(runtime, run_jobs)
    approved_code(runtime, settings)
    phone = Phone(client, number=ENUMERATOR)
    phone.dial()
    phone.send("1")
    phone.send(HOUSEHOLD_TYPED)  # the household's consent screen is up

    new_key = Fernet.generate_key().decode()
    with runtime.sessions.begin() as session:
        rotate_keys(session, runtime.store, NumberCipher([new_key, *settings.encryption_keys]))

    only_new = NumberCipher([new_key])
    sessions = [json.loads(runtime.redis.get(k) or "{}") for k in runtime.redis.keys("sg:ussd:*")]
    tokens = [s["household"]["phone_token"] for s in sessions if s.get("household")]
    assert [only_new.decrypt(t) for t in tokens] == [HOUSEHOLD]


def test_an_erasure_leaves_no_number_in_redis_and_later_replies_have_nobody_to_go_to(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    sms = SmsPhone(client, runtime, run_jobs, number=NUMBER)
    sms.send("ENQUETE")
    sms.send("EFFACER")
    # A reply that ran only after the erasure (a retry after AT was unreachable, say).
    respondent = runtime.services.pseudonymise(NUMBER)
    runtime.queue.enqueue("workers.sms.send_reply", "late-1", respondent, "question", "Q?")
    run_jobs()

    leftovers: list[str] = []
    for key in runtime.redis.scan_iter("*"):
        kind = runtime.redis.type(key)
        if kind == b"string":
            leftovers += numbers_in(str(runtime.redis.get(key)), runtime.cipher)
        elif kind == b"hash" and not key.startswith(b"rq:job:"):
            leftovers += numbers_in(str(runtime.redis.hgetall(key)), runtime.cipher)
    for job in queued_jobs(runtime):
        leftovers += numbers_in(repr((job.args, job.kwargs)), runtime.cipher)
    assert leftovers == []
    with runtime.sessions() as session:
        assert session.scalars(select(Message)).all() == []  # erased, and the late one unsent
