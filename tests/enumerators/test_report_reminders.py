"""The reminder SMS to an approved enumerator who has sent no report for N days.

Enumerators register by SMS, are approved with the ``enumerators`` command and report by USSD
as in the field; the maintenance job then runs in a real RQ worker whose clock is moved on, and
what reaches the handset is read from the outbox as an SMS.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from rq import SimpleWorker
from rq.registry import ScheduledJobRegistry

from flows.gsm7 import Encoding, measure_sms
from gateway.core.clock import utc_now
from gateway.core.errors import ConfigError
from gateway.core.runtime import Runtime
from gateway.core.settings import Settings
from gateway.enumerators.models import Enumerator
from gateway.messaging.sender import ConsoleSender
from tests.campaigns.test_campaigns import FakeClock
from tests.enumerators.test_activity import ussd_report
from tests.enumerators.test_enumerators import (
    ENUMERATOR,
    ENUMERATOR_MASKED,
    approved_code,
    messages,
    register,
    supervisor,
    the_enumerator,
)
from tests.phone import SmsPhone
from workers import maintenance
from workers.context import WorkerContext, install
from workers.recovery import restore_live_state

OTHER = "+22365998877"
DAYS = 3


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """Reminders after three days, unless a test asks for the settings as they come."""
    days = getattr(request, "param", DAYS)
    return settings if days is None else replace(settings, report_reminder_days=days)


def remind(runtime: Runtime, at: datetime, outbox: io.StringIO) -> None:
    """The reminder job as a worker runs it at ``at``, and the SMS it queues."""
    install(WorkerContext(runtime=runtime, sender=ConsoleSender(outbox), clock=FakeClock(at)))
    runtime.queue.enqueue(
        "workers.maintenance.remind_quiet_enumerators", job_id=maintenance.REPORT_REMINDERS_JOB_ID
    )
    SimpleWorker([runtime.queue], connection=runtime.redis).work(burst=True)


def a_second_enumerator(runtime: Runtime, settings: Settings, run_jobs: Callable[..., int]) -> str:
    """Moussa, who registered in English, approved; his code."""
    register(runtime, run_jobs, number=OTHER, answers=["Moussa Keita", "7", "Gao"], language="en")
    assert (
        supervisor(runtime, settings, "approve", the_enumerator(runtime, OTHER).id[:8]).exit_code
        == 0
    )
    code = the_enumerator(runtime, OTHER).code
    assert code is not None
    return code


def test_a_quiet_enumerator_is_reminded_once_every_n_days_in_their_language(
    client: FlaskClient,
    runtime: Runtime,
    settings: Settings,
    run_jobs: Callable[..., int],
    outbox_stream: io.StringIO,
) -> None:
    register(runtime, run_jobs)
    code = approved_code(runtime, settings)
    other = a_second_enumerator(runtime, settings, run_jobs)
    awa = SmsPhone(client, runtime, run_jobs, number=ENUMERATOR)
    moussa = SmsPhone(client, runtime, run_jobs, number=OTHER)
    assert len(awa.replies()) == 1 and len(moussa.replies()) == 1  # the approval SMS
    ussd_report(client)  # Awa reports now; Moussa never does
    run_jobs()
    now = utc_now()

    remind(runtime, now + timedelta(days=DAYS - 1), outbox_stream)
    assert awa.replies() == [] and moussa.replies() == []  # nobody quiet for three days yet

    remind(runtime, now + timedelta(days=DAYS, hours=1), outbox_stream)
    (to_awa,) = awa.replies()
    assert to_awa == (
        f"OIM/DNDS: aucun rapport recu de vous ({code}) depuis 3 jours. Envoyez FMP ou SITE,"
        " ou composez le code USSD. STOP pour ne plus recevoir."
    )
    assert moussa.replies() == [
        f"IOM/DNDS: no report received from you ({other}) for 3 days. Send FMP or SITE,"
        " or dial the USSD code. STOP to receive no more."
    ]
    sms = measure_sms(to_awa)
    assert (sms.encoding, sms.segments) == (Encoding.GSM7, 1)
    assert f"SMS to {ENUMERATOR_MASKED}: OIM/DNDS: aucun rapport" in outbox_stream.getvalue()
    assert ENUMERATOR not in outbox_stream.getvalue()

    # An hour later, and again the next day: not twice within the three days...
    remind(runtime, now + timedelta(days=DAYS, hours=2), outbox_stream)
    remind(runtime, now + timedelta(days=DAYS + 2), outbox_stream)
    assert awa.replies() == [] and moussa.replies() == []
    # ...but once more when three more days have passed without a report.
    remind(runtime, now + timedelta(days=2 * DAYS, hours=2), outbox_stream)
    assert len(awa.replies()) == 1 and len(moussa.replies()) == 1
    assert len(messages(runtime, "report_reminder")) == 4


def test_a_withdrawn_report_does_not_count_as_reporting(
    client: FlaskClient,
    runtime: Runtime,
    settings: Settings,
    run_jobs: Callable[..., int],
    outbox_stream: io.StringIO,
) -> None:
    register(runtime, run_jobs)
    approved_code(runtime, settings)
    awa = SmsPhone(client, runtime, run_jobs, number=ENUMERATOR)
    awa.replies()
    with runtime.sessions.begin() as session:
        # Approved ten days ago; she reports today, then takes the report back.
        approved = session.get(Enumerator, the_enumerator(runtime).id)
        assert approved is not None
        approved.decided_at = utc_now() - timedelta(days=10)
    reference = ussd_report(client)
    assert awa.send(f"ANNULER {reference}") == [f"Rapport {reference} annule."]

    remind(runtime, utc_now(), outbox_stream)

    assert [m.kind for m in messages(runtime, "report_reminder")] == ["report_reminder"]


def test_no_reminder_to_a_revoked_enumerator_nor_after_stop(
    client: FlaskClient,
    runtime: Runtime,
    settings: Settings,
    run_jobs: Callable[..., int],
    outbox_stream: io.StringIO,
) -> None:
    register(runtime, run_jobs)
    code = approved_code(runtime, settings)
    a_second_enumerator(runtime, settings, run_jobs)
    assert supervisor(runtime, settings, "revoke", code).exit_code == 0
    moussa = SmsPhone(client, runtime, run_jobs, number=OTHER)
    moussa.replies()
    moussa.send("STOP")

    remind(runtime, utc_now() + timedelta(days=30), outbox_stream)

    assert messages(runtime, "report_reminder") == []


@pytest.mark.parametrize("settings", [None], indirect=True)
def test_reminders_are_off_by_default(
    client: FlaskClient,
    runtime: Runtime,
    settings: Settings,
    run_jobs: Callable[..., int],
    outbox_stream: io.StringIO,
) -> None:
    assert settings.report_reminder_days == 0
    register(runtime, run_jobs)
    approved_code(runtime, settings)
    run_jobs()

    restore_live_state(runtime)
    planned = ScheduledJobRegistry(queue=runtime.queue)
    assert maintenance.REPORT_REMINDERS_JOB_ID not in planned.get_job_ids()
    # A run left planned from before the setting was turned off is the last one.
    remind(runtime, utc_now() + timedelta(days=365), outbox_stream)

    assert messages(runtime, "report_reminder") == []
    assert maintenance.REPORT_REMINDERS_JOB_ID not in planned.get_job_ids()


def test_the_reminder_job_is_planned_at_start_and_again_after_each_run(runtime: Runtime) -> None:
    restore_live_state(runtime)  # a worker starting
    planned = ScheduledJobRegistry(queue=runtime.queue)
    assert maintenance.REPORT_REMINDERS_JOB_ID in planned.get_job_ids()
    runtime.redis.flushdb()  # Redis came back empty
    restore_live_state(runtime)
    assert maintenance.REPORT_REMINDERS_JOB_ID in planned.get_job_ids()

    remind(runtime, utc_now(), io.StringIO())

    assert maintenance.REPORT_REMINDERS_JOB_ID in planned.get_job_ids()
    job = runtime.queue.fetch_job(maintenance.REPORT_REMINDERS_JOB_ID)
    assert job is not None and job.func_name == "workers.maintenance.remind_quiet_enumerators"
    assert runtime.redis.ttl(job.key) == -1  # kept until it is due


@pytest.mark.parametrize("typed", ["-1", "three"])
def test_a_reminder_setting_that_is_no_number_of_days_is_refused(
    tmp_path: Path, typed: str
) -> None:
    env = {"GATEWAY_VAR_DIR": str(tmp_path), "GATEWAY_REPORT_REMINDER_DAYS": typed}
    with pytest.raises(ConfigError):
        Settings.from_env(env)
    env["GATEWAY_REPORT_REMINDER_DAYS"] = "7"
    assert Settings.from_env(env).report_reminder_days == 7
