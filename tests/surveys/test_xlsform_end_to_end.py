"""A form written as an XLSForm, imported, then answered over USSD and SMS through the web app
and the workers, and exported under the form's names; and a run under way keeping its version
when a new one is imported."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import redis
from flask import Flask
from sqlalchemy import select

from gateway.core.clock import utc_now
from gateway.core.db import upgrade
from gateway.core.runtime import Runtime
from gateway.core.settings import Settings
from gateway.results.export import ExportFormat, write_export
from gateway.surveys.flow_files import import_xlsform, publish_draft
from gateway.surveys.models import Submission
from gateway.web.app import create_app
from tests.phone import Phone, SmsPhone
from tests.xlsforms import SITE_SETTINGS, SITE_SURVEY, site_form


@pytest.fixture
def app(settings: Settings, redis_client: redis.Redis) -> Flask:
    """The web app with the site assessment imported and reached by the USSD code."""
    import_xlsform(site_form(), settings.flows_folder)
    publish_draft(settings.flows_folder, "site_assessment")
    upgrade(settings.database_url)
    return create_app(replace(settings, ussd_flow="site_assessment"), client=redis_client)


def exported(runtime: Runtime, fmt: ExportFormat = "csv") -> list[dict[str, str]]:
    """The export as the dashboard, the API and the command line write it."""
    flow = runtime.flows["site_assessment"]
    out = io.StringIO(newline="")
    with runtime.sessions() as session:
        write_export(session, flow, fmt, out, utc_now())
    return list(csv.DictReader(io.StringIO(out.getvalue())))


def test_the_form_runs_over_ussd_and_its_answers_export_under_its_names(
    client: object, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    phone = Phone(client)  # type: ignore[arg-type]

    first = phone.dial()
    assert first == "CON Acceptez-vous de repondre?\n1. Oui\n2. Non\n9. English"
    assert phone.send("1").startswith("CON Votre region?\n1. Mopti\n2. Bamako")
    # Only the sites of Mopti, numbered from 1.
    assert phone.send("1") == "CON Votre site?\n1. Sevare 1\n2. Sevare 2\n0. Retour"
    assert phone.send("2").startswith("CON Combien de menages sur le site?")
    assert phone.send("600").startswith("CON Entre 1 et 500 menages.\nCombien de menages")
    assert phone.send("12").startswith("CON Besoins? Envoyez les numeros, ex: 1 3\n1. Nourriture")
    assert phone.send("2 1").startswith("CON Combien de points d'eau?")
    assert phone.send("3") == "END Merci pour ces reponses.\nMerci. Vos reponses sont enregistrees."
    run_jobs()

    (row,) = exported(runtime)
    # The note is a screen, not a question: no empty column for it, in any format.
    assert "thanks_note" not in row
    (tags, _) = exported(runtime, "hxl")
    assert "#indicator+thanks_note" not in tags.values()
    assert (row["flow"], row["flow_version"], row["status"]) == (
        "site_assessment",
        "2026030101",
        "completed",
    )
    answers = {
        k: row[k] for k in ("consent", "region", "site", "households", "needs", "water_points")
    }
    assert answers == {
        "consent": "yes",
        "region": "mopti",
        "site": "sevare_2",
        "households": "12",
        "needs": "food water",
        "water_points": "3",
    }


def test_the_form_runs_over_sms_in_english(
    client: object, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    phone = SmsPhone(client, runtime, run_jobs, number="+22376000111")  # type: ignore[arg-type]

    assert phone.send("EN") == ["Language: English."]
    assert phone.send("EVAL") == ["Do you agree to answer?\n1.Yes\n2.No"]
    assert phone.send("1") == ["Your region?\n1.Mopti\n2.Bamako"]
    assert phone.send("2") == ["Your site?\n1.Niamana"]
    assert phone.send("1") == ["How many households on site?"]
    assert phone.send("900") == ["From 1 to 500 households.\nHow many households on site?"]
    assert phone.send("40") == ["Needs? Send the numbers, e.g. 1 3\n1.Food\n2.Water\n3.Shelter"]
    # Water chosen but in Bamako: not(...) skips the water points.
    assert phone.send("2 3") == ["Thank you for these answers.\nThank you. Your answers are saved."]

    (row,) = exported(runtime)
    assert (row["language"], row["site"], row["needs"], row["water_points"]) == (
        "en",
        "niamana",
        "water shelter",
        "",
    )


def test_a_run_under_way_keeps_its_version_when_a_new_one_is_imported(
    settings: Settings, redis_client: redis.Redis, client: object, run_jobs: Callable[..., int]
) -> None:
    phone = Phone(client)  # type: ignore[arg-type]
    phone.dial()
    phone.send("1")  # consent on version 2026030101

    survey = [list(r) for r in SITE_SURVEY]
    survey[4][2] = "Votre région (v2)?"  # FR label of the region question
    newer = [SITE_SETTINGS[0], ["T", "site_assessment", "2026040101", "Français (fr)", "EVAL"]]
    import_xlsform(site_form(survey=survey, settings=newer), settings.flows_folder)
    report = publish_draft(settings.flows_folder, "site_assessment")
    assert report is not None and report.replaced == 2026030101
    # The gateway restarted on the new version.
    restarted = create_app(replace(settings, ussd_flow="site_assessment"), client=redis_client)
    phone.client = restarted.test_client()

    assert phone.send("1").startswith("CON Votre site?")  # the old run goes on, as it started
    for answer in ("1", "12", "1"):
        phone.send(answer)
    stranger = Phone(restarted.test_client(), number="+22376999888")
    stranger.dial()
    assert stranger.send("1").startswith("CON Votre region (v2)?")

    rt: Runtime = restarted.extensions["gateway"]
    run_jobs()  # the workers, on the same Redis and database
    with rt.sessions() as session:
        versions = session.scalars(select(Submission.flow_version)).all()
    assert sorted(versions) == [2026030101, 2026040101]
    assert Path(settings.flows_folder / "versions" / "site_assessment.v2026030101.yaml").exists()
