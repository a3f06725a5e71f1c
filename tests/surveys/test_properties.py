"""Arbitrary input at the AT callbacks: never a 500, always a readable answer, state consistent.

Hypothesis throws arbitrary field sets, text, unicode and lengths at ``/ussd``, ``/sms/inbound``
and ``/sms/delivery`` against the real app, Redis and database.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.core.runtime import Runtime

# Function-scoped fixtures (the app, Redis) are shared by every example of one test on purpose:
# state piling up across examples is part of what is being tried.
EXAMPLES = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

PHONES = st.one_of(
    st.just("+22376123456"),
    st.just("76123456"),
    st.from_regex(r"\+?[0-9 ]{0,20}", fullmatch=True),
    st.text(max_size=40),
)
TEXTS = st.one_of(
    st.from_regex(r"([0-9]{1,3}\*){0,12}[0-9]{0,3}", fullmatch=True),
    st.text(max_size=300),
    st.text(alphabet="0123456789*#", max_size=60),
    st.sampled_from(["", "*", "**", "98", "0", "9", "1*1*1*1*1*1*1*1*1*1*1", "STOP", "EFFACER"]),
)
FIELDS = st.dictionaries(
    st.sampled_from(
        [
            "sessionId",
            "serviceCode",
            "phoneNumber",
            "networkCode",
            "text",
            "from",
            "to",
            "id",
            "status",
            "linkId",
            "date",
            "failureReason",
            "retryCount",
            "junk",
        ]
    ),
    st.text(max_size=80),
    max_size=8,
)


def _consistent(runtime: Runtime) -> None:
    """Every stored run and session reads back as what the gateway wrote."""
    for key in runtime.redis.scan_iter("sg:run:*"):
        run_id = key.decode().split(":", 2)[2]
        assert runtime.store.load_run(run_id) is not None
    for key in runtime.redis.scan_iter("sg:ussd:*"):
        data = json.loads(runtime.redis.get(key) or b"{}")
        assert data["reply"].startswith(("CON ", "END "))
        assert len(data["reply"]) <= 182


@EXAMPLES
@given(session=st.sampled_from(["s1", "s2", "x" * 200, ""]), phone=PHONES, text=TEXTS)
def test_ussd_always_answers_a_screen(
    client: FlaskClient, runtime: Runtime, session: str, phone: str, text: str
) -> None:
    form = {"sessionId": session, "serviceCode": "*384*123#", "phoneNumber": phone, "text": text}

    response = client.post("/ussd", data=form)

    assert response.status_code in (200, 400, 413)
    body = response.get_data(as_text=True)
    assert body.startswith(("CON ", "END ")) and len(body) <= 182
    assert "Traceback" not in body
    _consistent(runtime)


@EXAMPLES
@given(fields=FIELDS)
def test_any_field_set_gets_a_4xx_or_a_2xx(
    client: FlaskClient, runtime: Runtime, fields: dict[str, str]
) -> None:
    for path in ("/ussd", "/ussd/events", "/sms/inbound", "/sms/delivery"):
        response = client.post(path, data=fields)
        assert response.status_code < 500, (path, fields, response.get_data(as_text=True))
        assert "Traceback" not in response.get_data(as_text=True)
    _consistent(runtime)


@EXAMPLES
@given(phone=PHONES, text=TEXTS, message_id=st.text(min_size=1, max_size=40))
def test_inbound_sms_never_fails_and_workers_cope(
    client: FlaskClient,
    runtime: Runtime,
    run_jobs: Callable[..., int],
    phone: str,
    text: str,
    message_id: str,
) -> None:
    form = {"from": phone, "to": "38412", "text": text, "id": message_id, "date": "x"}

    response = client.post("/sms/inbound", data=form)

    assert response.status_code in (200, 400)
    run_jobs()
    assert runtime.queue.failed_job_registry.count == 0
    _consistent(runtime)


@EXAMPLES
@given(
    message_id=st.text(max_size=120),
    status=st.one_of(
        st.sampled_from(["Sent", "Submitted", "Buffered", "Rejected", "Success", "Failed"]),
        st.text(max_size=40),
    ),
    reason=st.text(max_size=100),
)
def test_delivery_reports_never_fail(
    client: FlaskClient,
    runtime: Runtime,
    run_jobs: Callable[..., int],
    message_id: str,
    status: str,
    reason: str,
) -> None:
    form = {"id": message_id, "status": status, "failureReason": reason, "phoneNumber": "+1"}

    response = client.post("/sms/delivery", data=form)

    assert response.status_code in (200, 400)
    run_jobs()
    assert runtime.queue.failed_job_registry.count == 0
