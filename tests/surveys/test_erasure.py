"""EFFACER erases a respondent everywhere: database rows of every kind, and live state.

Each assertion names one place a number or an answer could survive an erasure.
"""

from __future__ import annotations

import io
from collections.abc import Callable

from flask.testing import FlaskClient
from sqlalchemy import select

from gateway.campaigns.models import CampaignContact
from gateway.core.runtime import Runtime
from gateway.core.settings import Settings
from gateway.enumerators.models import Enumerator
from gateway.messaging.models import Message
from gateway.surveys.live_records import run_json
from gateway.surveys.models import Submission
from tests.campaigns.test_campaigns import new_campaign
from tests.enumerators.test_enumerators import ENUMERATOR, approved_code, register
from tests.phone import Phone, SmsPhone

ERASED_FR = "Vos réponses et votre numéro ont été effacés."


def test_erasure_takes_campaign_entries_enumerator_rows_and_live_runs(
    client: FlaskClient, runtime: Runtime, settings: Settings, run_jobs: Callable[..., int]
) -> None:
    register(runtime, run_jobs)  # the enumerator registered by SMS...
    approved_code(runtime, settings)
    new_campaign(runtime, [ENUMERATOR, "+22376000001"])  # ...is on a campaign list...
    phone = Phone(client, number=ENUMERATOR)
    SmsPhone(client, runtime, run_jobs, number=ENUMERATOR).send("ENQUETE")  # ...and answering
    pseudonym = runtime.services.pseudonymise(ENUMERATOR)
    assert runtime.store.active_run("return_intention", pseudonym) is not None

    SmsPhone(client, runtime, run_jobs, number=ENUMERATOR).send("EFFACER")

    with runtime.sessions() as session:
        assert session.scalars(select(Enumerator)).all() == []
        contacts = session.scalars(select(CampaignContact)).all()
        assert [c.respondent_id for c in contacts] == [
            runtime.services.pseudonymise("+22376000001")
        ]
        assert (
            session.scalars(select(Submission).where(Submission.respondent_id == pseudonym)).all()
            == []
        )
        assert (
            session.scalars(select(Message).where(Message.respondent_id == pseudonym)).all() == []
        )
    run_records = [
        k
        for k in runtime.redis.scan_iter("sg:run:*")
        if run_json(runtime.redis.get(k) or b"{}").get("respondent") == pseudonym
    ]
    assert run_records == []
    assert not runtime.redis.exists(f"sg:r:{pseudonym}")  # its runs' index and pointers
    # No longer an enumerator: dialling in is a household's first screen.
    assert phone.dial().startswith("CON OIM/DNDS: sondage volontaire")


def test_an_opted_out_number_that_asks_for_erasure_is_erased_but_not_texted(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int], outbox_stream: io.StringIO
) -> None:
    phone = SmsPhone(client, runtime, run_jobs, number="+22376123456")
    phone.send("ENQUETE")
    phone.send("STOP")
    printed_before = outbox_stream.getvalue()

    phone.send("EFFACER")

    assert ERASED_FR not in outbox_stream.getvalue()
    assert outbox_stream.getvalue() == printed_before  # nothing at all went to the number
    with runtime.sessions() as session:
        assert session.scalars(select(Submission)).all() == []
