"""Dashboard campaigns and results, through Flask's test client (no browser).

A manager creates a campaign from a CSV upload and reads the import report, starts, pauses,
resumes and cancels it, and follows its counts; what the campaign domain refuses is said in the
interface's language. Everyone reads results as charts with small cells suppressed, and
downloads exports, audited.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from gateway.campaigns import audience as campaign_audience
from gateway.campaigns import definition as campaigns
from gateway.campaigns import imports as campaign_imports
from gateway.campaigns import lifecycle as campaign_lifecycle
from gateway.campaigns.definition import next_send_time, parse_window
from gateway.campaigns.models import Campaign
from gateway.core.i18n import CATALOGS, LANGUAGES
from gateway.core.runtime import Runtime
from gateway.web.dashboard import campaigns as dashboard_campaigns
from tests.phone import SmsPhone
from tests.staff import (
    assert_light_page,
    audit_actions,
    complete_surveys,
    csrf_token,
    make_staff,
    page_of,
    sign_in,
    text_of,
)
from tests.windows import OPEN_FOR, open_window


@pytest.fixture
def staff(runtime: Runtime) -> None:
    """Accounts ``viewer``, ``manager`` and ``admin``."""
    make_staff(runtime)


# -- campaigns -----------------------------------------------------------------------------

AUDIENCE = (
    "phone,language\n"
    "+22376000001,fr\n"
    "76 00 00 02,\n"  # as typed in Mali
    "hello,fr\n"  # row 4: not a number
    "+22376000001,fr\n"  # row 5: listed twice
    "+22376000003,klingon\n"  # row 6: a language the survey does not offer
    "+22376000009,fr\n"  # sent STOP before
)


def upload(client: FlaskClient, csv_text: str, **fields: str) -> TestResponse:
    """Post the new-campaign form with a CSV file, as a browser does; it may send at once."""
    page = client.get("/dashboard/campaigns/new").get_data(as_text=True)
    window = open_window()
    data: dict[str, object] = {
        "csrf_token": csrf_token(page),
        "name": "Mopti, mars",
        "flow": "return_intention",
        "channel": "sms",
        "window": window.window,
        "timezone": window.timezone,
        "throttle": "50",
        "audience": (io.BytesIO(csv_text.encode()), "audience.csv"),
    }
    data.update(fields)
    return client.post("/dashboard/campaigns/new", data=data, content_type="multipart/form-data")


@pytest.mark.parametrize(
    "now",
    [f"2026-03-10T{hhmm}:30+00:00" for hhmm in ("00:00", "08:15", "12:00", "23:28", "23:29")]
    + [f"2026-03-10T{hhmm}+00:00" for hhmm in ("23:58:59", "23:59:00", "23:59:59")],
)
def test_the_tests_campaign_window_is_open_whatever_the_hour(now: str) -> None:
    start = datetime.fromisoformat(now)
    window = open_window(start)
    opens, closes = parse_window(window.window)
    campaign = Campaign(window_start=opens, window_end=closes, timezone=window.timezone)

    for moment in (start, start + OPEN_FOR):
        assert next_send_time(campaign, moment) == moment


def test_the_tests_campaign_window_is_the_usual_one_most_of_the_day() -> None:
    noon = datetime(2026, 3, 10, 12, tzinfo=UTC)
    late = noon + timedelta(hours=11, minutes=45)

    assert open_window(noon).timezone == "Africa/Bamako"
    assert open_window(late).timezone != "Africa/Bamako"


def press(client: FlaskClient, campaign_page: str, action: str) -> TestResponse:
    """Press a campaign page's button; for cancel, follow its link and confirm."""
    if action == "cancel":
        link = re.search(
            r'id="action-cancel" href="(/dashboard/campaigns/[^"]+/cancel)"', campaign_page
        )
        assert link is not None, "no cancel button"
        confirm = text_of(client.get(link.group(1)))
        return client.post(
            link.group(1),
            data={"csrf_token": csrf_token(confirm), "confirm": "yes"},
            follow_redirects=True,
        )
    found = re.search(rf'action="(/dashboard/campaigns/[^"]+/{action})"', campaign_page)
    assert found is not None, f"no {action} button"
    return client.post(
        found.group(1), data={"csrf_token": csrf_token(campaign_page)}, follow_redirects=True
    )


def count(html: str, name: str) -> int:
    """One count of a campaign page (French groups thousands with a narrow space)."""
    found = re.search(rf'id="count-{name}">([\d\s\u202f\xa0,]+)<', html)
    assert found is not None, f"no count {name}"
    return int(re.sub(r"\D", "", found.group(1)))


def test_a_manager_creates_a_campaign_from_a_csv_and_sees_the_import_report(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int], staff: None
) -> None:
    SmsPhone(client, runtime, run_jobs, number="+22376000009").send("STOP")
    sign_in(client, "manager")

    response = upload(client, AUDIENCE)

    assert response.status_code == 302
    page = client.get(response.headers["Location"])
    html = text_of(page)
    assert "Campagne « Mopti, mars » créée." in html
    # The list is imported by a worker: meanwhile the page says so and reloads itself.
    assert "La liste attend d'être importée. Cette page se met à jour toute seule." in html
    assert '<meta http-equiv="refresh" content="3">' in page.get_data(as_text=True)
    refused = text_of(press(client, html, "start"))
    assert (
        "Impossible : la liste de la campagne « Mopti, mars » est en cours d'import : "
        "démarrez-la une fois l'import terminé" in refused
    )
    assert 'id="status">brouillon<' in refused

    run_jobs()
    page = client.get(response.headers["Location"])
    html = text_of(page)
    assert_light_page(page.get_data(as_text=True))
    assert "http-equiv" not in page.get_data(as_text=True)  # done: no more reloading
    report = re.search(r'<table id="report">(.*?)</table>', html, re.S)
    assert report is not None
    cells = re.findall(r'<td class="num">(\d+)</td>', report.group(1))
    assert cells == ["2", "1", "1", "2"]  # imported, duplicates, opted out, invalid
    assert invalid_rows(html) == [
        ("4", "numéro de téléphone invalide (aucun chiffre)"),
        ("6", "langue inconnue (l'enquête propose : fr, en)"),
    ]
    assert "+22376000001" not in html and "hello" not in html
    assert count(html, "contacts") == 2
    assert ("user:manager", "campaign.create") in audit_actions(runtime)
    assert ("user:manager", "campaign.import") in audit_actions(runtime)
    listing = text_of(client.get("/dashboard/campaigns/"))
    assert "Mopti, mars" in listing and "brouillon" in listing and "0 invités sur 2" in listing
    # The report is said in the language of whoever reads it, not of whoever uploaded.
    client.get("/dashboard/language/en")
    assert invalid_rows(text_of(client.get(response.headers["Location"]))) == [
        ("4", "not a phone number (no digits)"),
        ("6", "unknown language (the survey offers fr, en)"),
    ]


def invalid_rows(html: str) -> list[tuple[str, str]]:
    """The import report's invalid rows: (row, problem)."""
    return re.findall(r'<tr><td class="num">(\d+)</td><td>([^<]*)</td>', html)


def test_a_list_the_domain_refuses_creates_nothing_and_says_why(
    client: FlaskClient, runtime: Runtime, staff: None
) -> None:
    sign_in(client, "manager")

    no_phone = upload(client, "name,region\nAwa,mopti\n")
    no_file = upload(client, "", audience=(io.BytesIO(b""), ""))
    bad_window = upload(client, AUDIENCE, window="19:00-08:00")

    assert no_phone.status_code == no_file.status_code == bad_window.status_code == 422
    assert "n'a pas de colonne de numéros" in text_of(no_phone)
    assert "choisissez le fichier CSV" in text_of(no_file)
    assert 'value="Mopti, mars"' in text_of(bad_window)  # the form keeps what was typed
    assert "Aucune campagne" in text_of(client.get("/dashboard/campaigns/"))


FIELD_OF = {
    "window": "window",
    "throttle": "throttle",
    "csv": "audience",
    "timezone": "timezone",
    "start": "start_at",
}
REFUSALS = {
    "fr": {
        "window": "le créneau d'envoi « 19:00-08:00 » doit "
        "commencer avant de se terminer, par exemple 08:00-19:00",
        "throttle": "le débit doit être entre 0,1 et 50 messages par seconde, et non 100",
        "csv": "la ligne d'en-tête n'a pas de colonne de "
        "numéros : nommez-la « phone » (ou « telephone », « numero »)",
        "timezone": "« Mars/Olympus » n'est pas un nom de fuseau "
        "horaire ; utilisez un nom comme Africa/Bamako",
        "start": "le début 9999-12-31T23:00 est trop loin : une "
        "campagne commence au plus tard dans 365 jours",
    },
    "en": {
        "window": "the window '19:00-08:00' must open before it closes, e.g. 08:00-19:00",
        "throttle": "the throttle is 0.1 to 50 messages a second, not 100",
        "csv": "the header row has no phone column: name the "
        "column of numbers 'phone' (or 'telephone', 'numero')",
        "timezone": "'Mars/Olympus' is not a time zone name; use one like Africa/Bamako",
        "start": "the start 9999-12-31T23:00 is too far ahead: a campaign starts within 365 days",
    },
}


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_refused_campaign_is_explained_in_the_interface_language(
    client: FlaskClient, staff: None, language: str
) -> None:
    client.get(f"/dashboard/language/{language}")
    sign_in(client, "manager")

    said = {
        "window": text_of(upload(client, AUDIENCE, window="19:00-08:00")),
        "throttle": text_of(upload(client, AUDIENCE, throttle="100")),
        "csv": text_of(upload(client, "name,region\nAwa,mopti\n")),
        "timezone": text_of(upload(client, AUDIENCE, timezone="Mars/Olympus")),
        "start": text_of(upload(client, AUDIENCE, start_at="9999-12-31T23:00")),
    }

    heading = {
        "fr": "La campagne n'a pas été créée. À corriger :",
        "en": "The campaign was not created. To correct:",
    }[language]
    for case, expected in REFUSALS[language].items():
        field = FIELD_OF[case]
        # Said next to its field, and in the list at the top.
        assert f'<p class="field-error" id="{field}-error">{expected}</p>' in said[case], case
        assert heading in said[case]
    other = REFUSALS["en" if language == "fr" else "fr"]
    assert not [case for case, text in other.items() if text in said[case]]


def test_a_refused_change_is_explained_in_the_interface_language(
    client: FlaskClient, staff: None
) -> None:
    sign_in(client, "manager")
    location = upload(client, AUDIENCE).headers["Location"]
    html = text_of(press(client, text_of(client.get(location)), "cancel"))

    token = {"csrf_token": csrf_token(html)}
    refused = text_of(client.post(location + "/start", data=token, follow_redirects=True))
    client.get("/dashboard/language/en")
    in_english = text_of(client.post(location + "/start", data=token, follow_redirects=True))

    assert (
        "Impossible : la campagne « Mopti, mars » a été annulée et ne peut plus être démarrée : "
        "créez-en une nouvelle" in refused
    )
    assert (
        "Not possible: campaign 'Mopti, mars' was cancelled and cannot start again: create a "
        "new one" in in_english
    )


def test_every_reason_the_campaign_domain_gives_is_written_in_every_language() -> None:
    # A key missing from the catalogue would show as the key itself, in the API's answers too.
    modules = (
        campaigns,
        campaign_audience,
        campaign_imports,
        campaign_lifecycle,
        dashboard_campaigns,
    )
    source = "".join(Path(str(module.__file__)).read_text() for module in modules)
    keys = set(re.findall(r'\bTranslatable\(\s*"([a-z_.]+)"', source))

    assert len(keys) > 30
    lacking = {lang: sorted(keys - texts.keys()) for lang, texts in CATALOGS.texts.items()}
    assert lacking == {lang: [] for lang in LANGUAGES}


def test_a_list_bigger_than_other_requests_is_taken(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int], staff: None
) -> None:
    big = "phone\n" + "".join(f"+2237{6100000 + i:07d}\n" for i in range(2000))
    assert len(big) > runtime.settings.max_request_bytes
    sign_in(client, "manager")

    response = upload(client, big)
    run_jobs()

    assert response.status_code == 302
    assert count(text_of(client.get(response.headers["Location"])), "contacts") == 2000


def test_start_pause_resume_cancel_and_progress(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int], staff: None
) -> None:
    sign_in(client, "manager")
    location = upload(client, AUDIENCE).headers["Location"]
    run_jobs()
    html = text_of(client.get(location))
    assert "action-pause" not in html and "action-resume" not in html

    html = text_of(press(client, html, "start"))
    assert "Campagne démarrée" in html and 'id="status">en cours<' in html
    run_jobs()
    html = text_of(client.get(location))
    assert count(html, "sent") == 3 and count(html, "queued") == 0
    household = SmsPhone(client, runtime, run_jobs, number="+22376000002")
    for answer in ["1", "11", "5", "6", "1", "2", "1", "3"]:
        household.send(answer)
    html = text_of(client.get(location))
    assert count(html, "started") == 1 and count(html, "completed") == 1

    # Everyone was invited, and offers no button; but two households may still answer.
    assert 'id="status">invitations envoyées<' in html and "action-" not in html
    assert "2 ménage(s) peuvent encore répondre et recevoir des rappels" in html
    assert ("user:manager", "campaign.start") in audit_actions(runtime)


def test_pause_resume_and_cancel(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int], staff: None
) -> None:
    sign_in(client, "admin")
    location = upload(client, AUDIENCE).headers["Location"]
    run_jobs()
    html = text_of(press(client, text_of(client.get(location)), "start"))

    html = text_of(press(client, html, "pause"))
    assert 'id="status">en pause<' in html and "action-resume" in html
    html = text_of(press(client, html, "resume"))
    assert 'id="status">en cours<' in html
    html = text_of(press(client, html, "cancel"))
    assert 'id="status">annulée<' in html and "action-" not in html
    assert ("user:admin", "campaign.cancel") in audit_actions(runtime)


def test_a_viewer_follows_campaigns_but_changes_nothing(
    client: FlaskClient, runtime: Runtime, staff: None
) -> None:
    sign_in(client, "manager")
    location = upload(client, AUDIENCE).headers["Location"]
    client.post("/dashboard/logout", data={"csrf_token": csrf_token(page_of(client))})
    sign_in(client, "viewer")

    html = text_of(client.get(location))
    refused = client.post(location + "/start", data={"csrf_token": csrf_token(page_of(client))})

    assert "Mopti, mars" in html and "action-start" not in html
    assert "new-campaign" not in text_of(client.get("/dashboard/campaigns/"))
    assert client.get("/dashboard/campaigns/new").status_code == 403
    assert refused.status_code == 403
    assert 'id="status">brouillon<' in text_of(client.get(location))
    assert client.get("/dashboard/campaigns/" + "0" * 36).status_code == 404


def test_the_results_page_filters_by_campaign(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int], staff: None
) -> None:
    sign_in(client, "manager")
    location = upload(client, AUDIENCE).headers["Location"]
    campaign_id = location.rsplit("/", 1)[1]
    complete_surveys(client, run_jobs, 5)  # not reached by the campaign

    everyone = text_of(client.get("/dashboard/results/?flow=return_intention"))
    campaign_only = text_of(client.get(f"/dashboard/results/?campaign={campaign_id}"))

    assert '<b id="households">5</b>' in everyone
    assert f'<option value="{campaign_id}"' in everyone
    assert "Moins de 5 ménages" in campaign_only
    # The exports of that page are the campaign's too.
    links = re.findall(r'href="(/dashboard/results/export\.csv[^"]*)"', campaign_only)
    assert links and f"campaign={campaign_id}" in links[0]
    export = client.get(links[0].replace("&amp;", "&")).get_data(as_text=True)
    assert export.splitlines()[1:] == []  # the campaign's households have not answered


# -- results and exports --------------------------------------------------------------------


def test_results_show_charts_with_small_cells_suppressed(
    client: FlaskClient, run_jobs: Callable[..., int], staff: None
) -> None:
    complete_surveys(client, run_jobs, 6)
    sign_in(client, "viewer")

    response = client.get("/dashboard/results/?flow=return_intention")

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert_light_page(html)
    assert '<b id="households">6</b>' in html
    intention = unescape(chart(html, "intention"))
    # Everyone wants to return: one bar; the other answers (0 households) are "<5", no bar.
    assert intention.count("<rect") == 1
    assert "Retourner au lieu d'origine: 100,0\xa0%" in intention
    assert "Rester ici: <5" in intention


def chart(html: str, key: str) -> str:
    """The SVG of one table of the results page."""
    found = re.search(rf'<div class="chart" id="chart-{key}">\s*(<svg.*?</svg>)', html, re.S)
    assert found is not None, f"no chart {key}"
    return found.group(1)


def test_results_of_too_few_households_show_nothing(
    client: FlaskClient, run_jobs: Callable[..., int], staff: None
) -> None:
    complete_surveys(client, run_jobs, 2)
    sign_in(client, "viewer")

    html = client.get("/dashboard/results/").get_data(as_text=True)

    assert "Moins de 5 ménages" in html
    assert "<rect" not in html


def test_a_bad_filter_is_explained(client: FlaskClient, staff: None) -> None:
    sign_in(client, "viewer")

    response = client.get("/dashboard/results/?since=last+week")

    assert response.status_code == 400
    page = unescape(response.get_data(as_text=True))
    assert "Le filtre n'a pas pu être lu" in page
    assert "« last week » n'est pas une date. Écrivez-la comme 31/03/2026." in page
    assert client.get("/dashboard/results/?flow=nope").status_code == 404


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "hxl"])
def test_exports_download_through_the_session_and_are_audited(
    client: FlaskClient,
    runtime: Runtime,
    run_jobs: Callable[..., int],
    staff: None,
    fmt: str,
) -> None:
    complete_surveys(client, run_jobs, 2)
    assert client.get(f"/dashboard/results/export.{fmt}").status_code == 302
    sign_in(client, "viewer")

    response = client.get(f"/dashboard/results/export.{fmt}?flow=return_intention")

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.get_data()
    if fmt == "xlsx":
        assert body.startswith(b"PK")
    else:
        lines = body.decode("utf-8").splitlines()
        assert lines[0].startswith("submission_id,respondent,")
        assert len(lines) == 2 + 1 + (fmt == "hxl")
        assert "+2237612" not in body.decode("utf-8")
    assert ("user:viewer", "export") in audit_actions(runtime)


def test_a_throttle_written_with_a_decimal_comma_is_read_as_french_users_mean_it(
    client: FlaskClient, runtime: Runtime, staff: None
) -> None:
    sign_in(client, "manager")

    created = upload(client, AUDIENCE, throttle="0,5")
    refused = text_of(upload(client, AUDIENCE, throttle="0,05"))

    assert created.status_code == 302
    with runtime.sessions() as session:
        assert session.scalars(select(Campaign.throttle)).all() == [0.5]
    assert "le débit doit être entre 0,1 et 50 messages par seconde, et non 0,05" in refused
