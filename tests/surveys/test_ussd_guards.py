"""The USSD guards a household never notices until one is missing: replays and expiry."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from flask.testing import FlaskClient

from gateway.core.runtime import Runtime
from tests.phone import Phone

FIRST_SCREEN_START = "CON OIM/DNDS: sondage volontaire"


def test_at_resending_the_first_request_gets_the_first_screen_again(
    client: FlaskClient, runtime: Runtime
) -> None:
    phone = Phone(client)
    first = phone.dial()
    jobs = runtime.queue.count

    assert phone.resend() == first
    assert runtime.queue.count == jobs
    untouched = Phone(client, number="+22376000002")
    untouched.dial()
    assert phone.send("1") == untouched.send("1")  # the region question, nothing skipped


def test_a_run_past_its_expiry_is_not_offered_again(client: FlaskClient, runtime: Runtime) -> None:
    phone = Phone(client)
    phone.dial()
    phone.answer_all(["1", "11"])
    pseudonym = runtime.services.pseudonymise(phone.number)
    record = runtime.store.active_run("return_intention", pseudonym)
    assert record is not None
    # Three days and a minute later (the flow's expiry is three days).
    state = record.state
    aged = replace(
        state,
        started_at=state.started_at - timedelta(days=3, minutes=1),
        updated_at=state.updated_at - timedelta(days=3, minutes=1),
        expires_at=state.expires_at - timedelta(days=3, minutes=1),
    )
    runtime.store.save_run(replace(record, state=aged))

    assert phone.dial().startswith(FIRST_SCREEN_START)  # not "1. Continuer / 2. Recommencer"
