"""One phone cannot flood the gateway or run up the SMS bill."""

from __future__ import annotations

import io
from collections.abc import Callable

from flask.testing import FlaskClient

from gateway.core.runtime import Runtime
from gateway.web.webhooks.sms import SMS_LIMITS
from gateway.web.webhooks.ussd import USSD_PER_MINUTE
from tests.phone import Phone, SmsPhone


def test_ussd_requests_past_the_limit_get_a_readable_refusal(
    client: FlaskClient, runtime: Runtime
) -> None:
    phone = Phone(client)
    screens = [phone.dial() for _ in range(USSD_PER_MINUTE)]
    assert all(s.startswith("CON ") for s in screens)

    refused = phone.dial()

    assert refused == (
        "END Trop de requetes. Reessayez dans quelques minutes. / Too many requests, try later."
    )
    assert phone.last_status == 200
    # Another number is not affected.
    assert Phone(client, number="+22376999999").dial().startswith("CON OIM/DNDS")


def test_a_step_past_the_limit_changes_nothing(client: FlaskClient, runtime: Runtime) -> None:
    phone = Phone(client)
    for _ in range(USSD_PER_MINUTE):
        phone.dial()
    shown = runtime.store.load_session(phone.session_id)
    assert shown is not None

    refused = phone.send("1")

    assert refused.startswith("END Trop de requetes")
    after = runtime.store.load_session(phone.session_id)
    # The consent was not taken: the session still waits on the first screen, and no lock
    # was left behind for the next minute's requests.
    assert after == shown
    assert after.last_text == ""
    assert not runtime.redis.keys("sg:lock:*")


def test_sms_past_the_limit_are_taken_but_get_no_reply(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    per_minute = SMS_LIMITS[0][0]
    phone = SmsPhone(client, runtime, run_jobs)
    for _ in range(per_minute):
        phone.post("AIDE")
    assert len(phone.replies()) == per_minute

    phone.post("AIDE")

    assert phone.last_status == 200  # AT must not retry it
    assert phone.replies() == []


def test_erasure_does_not_reset_the_per_number_limits(
    client: FlaskClient,
    runtime: Runtime,
    run_jobs: Callable[..., int],
    outbox_stream: io.StringIO,
) -> None:
    per_minute = SMS_LIMITS[0][0]
    phone = SmsPhone(client, runtime, run_jobs)

    # Help asked for nearly up to the limit, then EFFACER, three times over in a moment.
    for _ in range(3):
        for _ in range(per_minute - 1):
            phone.post("AIDE")
        phone.post("EFFACER")
        run_jobs()  # the erasure runs at once, as a worker would

    assert phone.last_status == 200
    sent = [line for line in outbox_stream.getvalue().splitlines() if line.startswith("SMS to ")]
    assert len(sent) == per_minute
