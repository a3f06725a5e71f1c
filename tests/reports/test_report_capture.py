"""Enumerators' reports over the real webhooks: a flow-monitoring count by USSD and a site
assessment by SMS, stored by the workers with their reference, refused to anyone who is not an
approved enumerator, and withdrawn by ``ANNULER REF`` within the hour."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import select

from gateway.core.runtime import Runtime
from gateway.core.settings import Settings
from gateway.reports.models import Report
from gateway.staff.models import AuditEvent
from gateway.surveys.models import Submission
from tests.enumerators.test_enumerators import (
    ENUMERATOR,
    approved_code,
    register,
    supervisor,
    the_enumerator,
)
from tests.phone import Phone, SmsPhone

OTHER = "+22365998877"
HOUSEHOLD = "+22376123456"
HELP_FR = (
    "OIM/DNDS sondage menages deplaces. Envoyez ENQUETE pour repondre, SUITE pour continuer,"
    " STOP pour arreter, EFFACER pour effacer vos donnees, EN pour English."
)
# point Gao, arrivals, 12 people, 3 households, from Mopti (5) to Gao (7), conflict, 4 vulnerable
FLOW_COUNT = ["3", "1", "12", "3", "5", "7", "1", "4"]
# camp, Gao, name, 40 households, 150 people, 20 returnees, food, shelter, partial access
SITE = ["1", "gao", "Site de Sossokoira", "40", "150", "20", "1", "2", "2"]
REFERENCE = r"[0-9A-HJKMNP-TV-Z]{6}"


def reports(runtime: Runtime) -> list[Report]:
    with runtime.sessions() as session:
        return list(session.scalars(select(Report).order_by(Report.received_at)))


def an_approved_enumerator(
    runtime: Runtime, settings: Settings, run_jobs: Callable[..., int]
) -> str:
    register(runtime, run_jobs)
    return approved_code(runtime, settings)


def on_flow_monitoring(
    client: FlaskClient, runtime: Runtime, settings: Settings, run_jobs: Callable[..., int]
) -> Phone:
    """An approved enumerator's handset, on the first question of a flow monitoring report."""
    an_approved_enumerator(runtime, settings, run_jobs)
    phone = Phone(client, number=ENUMERATOR)
    phone.dial()
    phone.send("3")
    return phone


def test_a_flow_monitoring_report_by_ussd_is_stored_with_the_reference_shown(
    client: FlaskClient, runtime: Runtime, settings: Settings, run_jobs: Callable[..., int]
) -> None:
    code = an_approved_enumerator(runtime, settings, run_jobs)
    phone = Phone(client, number=ENUMERATOR)
    phone.dial()

    assert phone.send("3") == (
        "CON Point de suivi?\n1. Bamako\n2. Mopti\n3. Gao\n4. Tombouctou\n5. Autre\n9. English"
    )
    screens = phone.answer_all(FLOW_COUNT)
    assert screens[1] == "CON Nombre de personnes? Envoyez un nombre, ex: 12\n0. Retour"
    last = screens[-1]

    found = re.fullmatch(rf"END Merci\. Rapport enregistre, ref ({REFERENCE})\.", last)
    assert found, last
    # Nothing is written in the request: the workers store it.
    assert reports(runtime) == []
    run_jobs()
    (report,) = reports(runtime)
    assert report.reference == found.group(1)
    assert (report.flow, report.flow_version, report.channel) == ("flow_monitoring", 1, "ussd")
    assert report.enumerator_code == code
    assert report.enumerator_id == the_enumerator(runtime).id
    assert report.answers == {
        "point": "gao",
        "direction": "in",
        "individuals": "12",
        "households": "3",
        "origin_region": "mopti",
        "destination_region": "gao",
        "reason": "conflict",
        "vulnerable": "4",
    }
    assert report.withdrawn_at is None
    # A report is no household's survey: no submission, no confirmation SMS.
    with runtime.sessions() as session:
        assert (
            session.scalars(select(Submission).where(Submission.flow == "flow_monitoring")).all()
            == []
        )
    assert SmsPhone(client, runtime, run_jobs, number=ENUMERATOR).replies() == [
        f"OIM/DNDS: votre inscription d'enqueteur est validee. Votre code: {code}."
    ]

    # A second report the same day is a new report, not "already answered".
    phone.dial()
    phone.send("3")
    again = phone.answer_all(FLOW_COUNT)[-1]
    assert again.startswith("END Merci. Rapport enregistre, ref ")
    run_jobs()
    assert len(reports(runtime)) == 2


def test_more_vulnerable_people_than_people_is_asked_again_on_the_handset(
    client: FlaskClient, runtime: Runtime, settings: Settings, run_jobs: Callable[..., int]
) -> None:
    phone = on_flow_monitoring(client, runtime, settings, run_jobs)
    phone.answer_all(FLOW_COUNT[:-1])

    screen = phone.send("13")

    assert screen.startswith("CON Pas plus que le nombre de personnes (12).\nPersonnes vulnerables")
    assert phone.send("12").startswith("END Merci. Rapport enregistre, ref ")
    run_jobs()
    (report,) = reports(runtime)
    assert report.answers["vulnerable"] == "12"


def test_a_site_assessment_by_sms_in_english(
    client: FlaskClient, runtime: Runtime, settings: Settings, run_jobs: Callable[..., int]
) -> None:
    an_approved_enumerator(runtime, settings, run_jobs)
    phone = SmsPhone(client, runtime, run_jobs, number=ENUMERATOR)
    phone.replies()  # the approval SMS
    assert phone.send("EN") == ["Language: English."]

    (first,) = phone.send("site")
    assert first == "Type of place?\n1.Site or camp\n2.Host community\n3.Area of return"
    for answer in SITE[:4]:
        phone.send(answer)
    # Fewer displaced people than displaced households: asked again, with the rule.
    assert phone.send("39") == [
        "Not fewer than the number of households (40).\nDisplaced people present? Send a number"
    ]
    replies = [phone.send(answer) for answer in SITE[4:]]

    (thanks,) = replies[-1]
    found = re.fullmatch(rf"Thank you\. Assessment saved, ref ({REFERENCE})\.", thanks)
    assert found, thanks
    (report,) = reports(runtime)
    assert report.reference == found.group(1)
    assert (report.flow, report.channel, report.language) == ("location_assessment", "sms", "en")
    assert json.loads(report.answers_json) == {
        "site_type": "camp",
        "region": "gao",
        "site_name": "Site de Sossokoira",
        "idp_households": "40",
        "idp_individuals": "150",
        "returnee_individuals": "20",
        "need_1": "food",
        "need_2": "shelter",
        "access": "partial",
    }


def test_anyone_but_an_approved_enumerator_gets_the_household_help_and_nothing_is_kept(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    household = SmsPhone(client, runtime, run_jobs, number=HOUSEHOLD)
    assert household.send("FMP") == [HELP_FR]
    # No report run to answer: a word from a household, answered with help as any other.
    assert household.send("2") == [HELP_FR]
    assert household.send("ANNULER 7K3D9Q") == [HELP_FR]
    # Registered but not yet approved: the same.
    register(runtime, run_jobs)
    pending = SmsPhone(client, runtime, run_jobs, number=ENUMERATOR)
    assert pending.send("SITE") == [HELP_FR]
    # Dialling, a household sees its survey, not a report.
    assert Phone(client, number=HOUSEHOLD).dial().startswith("CON OIM/DNDS: sondage volontaire")
    run_jobs()
    assert reports(runtime) == []


def test_a_revoked_enumerator_is_stopped_mid_report_even_once_redis_lost_everything(
    client: FlaskClient, runtime: Runtime, settings: Settings, run_jobs: Callable[..., int]
) -> None:
    code = an_approved_enumerator(runtime, settings, run_jobs)
    ussd = Phone(client, number=ENUMERATOR)
    ussd.dial()
    ussd.send("3")
    ussd.answer_all(FLOW_COUNT[:3])
    sms = SmsPhone(client, runtime, run_jobs, number=ENUMERATOR)
    sms.replies()
    sms.send("FMP")

    assert supervisor(runtime, settings, "revoke", code).exit_code == 0

    assert ussd.send("3") == "END Vous n'etes plus enqueteur approuve: rapport non accepte."
    assert sms.send("2") == ["Vous n'etes plus enqueteur approuve: rapport non accepte."]
    assert sms.send("2") == [HELP_FR]  # the run ended: no report to answer any more
    # Redis comes back empty: the database still says revoked.
    runtime.redis.flushall()
    assert sms.send("FMP") == [HELP_FR]
    assert Phone(client, number=ENUMERATOR).dial().startswith("CON OIM/DNDS")
    run_jobs()
    assert reports(runtime) == []


def an_enumerator_texting(
    client: FlaskClient, runtime: Runtime, settings: Settings, run_jobs: Callable[..., int]
) -> tuple[str, SmsPhone]:
    """An approved enumerator's code, and their phone once the approval SMS has arrived."""
    code = an_approved_enumerator(runtime, settings, run_jobs)
    phone = SmsPhone(client, runtime, run_jobs, number=ENUMERATOR)
    phone.replies()
    return code, phone


def sms_report(phone: SmsPhone) -> str:
    phone.send("FMP")
    for answer in FLOW_COUNT[:-1]:
        phone.send(answer)
    (thanks,) = phone.send(FLOW_COUNT[-1])
    found = re.fullmatch(rf"Merci\. Rapport enregistré, réf ({REFERENCE})\.", thanks)
    assert found, thanks
    return found.group(1)


def test_annuler_withdraws_the_enumerators_own_report_within_the_hour(
    client: FlaskClient, runtime: Runtime, settings: Settings, run_jobs: Callable[..., int]
) -> None:
    code, phone = an_enumerator_texting(client, runtime, settings, run_jobs)
    reference = sms_report(phone)

    # Typed loosely: lower case, an O for a zero.
    typed = reference.lower().replace("0", "o")
    assert phone.send(f"annuler {typed}") == [f"Rapport {reference} annule."]

    (report,) = reports(runtime)
    assert report.withdrawn_at is not None  # marked, not deleted
    with runtime.sessions() as session:
        events = session.scalars(select(AuditEvent)).all()
    assert [(e.actor, e.action, e.object_id) for e in events][-1] == (
        code,
        "report.withdraw",
        report.id,
    )
    assert phone.send(f"CANCEL {reference}") == [f"Rapport {reference} deja annule."]
    assert phone.send("ANNULER XYZ") == [
        "Reference XYZ inconnue. Envoyez ANNULER et la reference recue, ex: ANNULER 7K3D9Q."
    ]


def test_a_report_is_withdrawn_even_before_the_workers_stored_it(
    client: FlaskClient, runtime: Runtime, settings: Settings, run_jobs: Callable[..., int]
) -> None:
    ussd = on_flow_monitoring(client, runtime, settings, run_jobs)
    last = ussd.answer_all(FLOW_COUNT)[-1]
    reference = last.removeprefix("END Merci. Rapport enregistre, ref ").removesuffix(".")
    # The job that would store it is still behind others (here: not queued at all); the run
    # is only marked as waiting to be stored.
    runtime.queue.empty()
    sms = SmsPhone(client, runtime, run_jobs, number=ENUMERATOR)

    replies = sms.send(f"ANNULER {reference}")

    assert replies[-1] == f"Rapport {reference} annule."
    (report,) = reports(runtime)
    assert report.withdrawn_at is not None


def test_annuler_refuses_a_late_withdrawal_and_another_enumerators_report(
    client: FlaskClient, runtime: Runtime, settings: Settings, run_jobs: Callable[..., int]
) -> None:
    _, phone = an_enumerator_texting(client, runtime, settings, run_jobs)
    reference = sms_report(phone)
    register(runtime, run_jobs, number=OTHER, answers=["Moussa Keita", "7", "Gao"])
    other_id = the_enumerator(runtime, OTHER).id
    assert supervisor(runtime, settings, "approve", other_id[:8]).exit_code == 0
    other = SmsPhone(client, runtime, run_jobs, number=OTHER)
    other.replies()

    assert other.send(f"ANNULER {reference}") == [
        f"Le rapport {reference} n'est pas un de vos rapports: rien n'est annule."
    ]
    # An hour and a minute later, the owner is too late.
    with runtime.sessions.begin() as session:
        (sent,) = session.scalars(select(Report)).all()
        sent.received_at -= timedelta(minutes=61)
    assert phone.send(f"ANNULER {reference}") == [
        f"Rapport {reference} envoye il y a plus d'une heure: il ne peut plus etre annule."
        " Contactez votre superviseur."
    ]
    (report,) = reports(runtime)
    assert report.withdrawn_at is None


def test_an_enumerator_who_erases_their_data_leaves_their_reports_about_places(
    client: FlaskClient, runtime: Runtime, settings: Settings, run_jobs: Callable[..., int]
) -> None:
    code, phone = an_enumerator_texting(client, runtime, settings, run_jobs)
    reference = sms_report(phone)

    phone.post("EFFACER")
    run_jobs()

    (report,) = reports(runtime)
    assert (report.reference, report.enumerator_code, report.enumerator_id) == (
        reference,
        code,
        None,
    )
    assert phone.send("FMP") == [HELP_FR]  # no longer an enumerator
