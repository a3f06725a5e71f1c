"""The new-campaign form and the campaign page, through Flask's test client (no browser).

A refused form says every problem at once, next to its field, and keeps the list sent with it;
reminders, expiry and time zone are set in the form; lists come as Excel saves them (CSV in
Windows-1252 with semicolons, or .xlsx); numbers are added to a running campaign; cancelling is
confirmed first; the campaign page shows its funnel, by day and by region.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable

import openpyxl
import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from gateway.campaigns.models import Campaign, CampaignContact, ContactStatus
from gateway.campaigns.progress import SENDING_DONE
from gateway.campaigns.services import open_due_waves
from gateway.core.i18n import CATALOGS, LANGUAGES
from gateway.core.runtime import Runtime
from gateway.staff.audit import WORKER_ACTOR
from gateway.web.dashboard.campaign_form import FIELDS
from gateway.web.dashboard.campaign_view import FUNNEL
from tests.campaigns.test_dashboard_campaigns import AUDIENCE, count, press, upload
from tests.phone import SmsPhone
from tests.staff import assert_light_page, audit_actions, csrf_token, make_staff, sign_in, text_of

SMS_SURVEY = ["1", "11", "5", "6", "1", "2", "1", "3"]  # lives in Bamako


@pytest.fixture
def manager(client: FlaskClient, runtime: Runtime) -> None:
    make_staff(runtime)
    sign_in(client, "manager")


def field_error(html: str, field: str) -> str | None:
    found = re.search(rf'<p class="field-error" id="{field}-error"[^>]*>([^<]*)</p>', html)
    return found.group(1) if found else None


def test_a_refused_form_says_every_problem_next_to_its_field_and_keeps_the_list(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int], manager: None
) -> None:
    refused = upload(
        client,
        AUDIENCE,
        name="",
        window="19:00-08:00",
        throttle="vite",
        reminder_count="trois",
        expiry_hours="99999",
    )

    assert refused.status_code == 422
    html = text_of(refused)
    assert_light_page(refused.get_data(as_text=True))
    assert field_error(html, "name") == "une campagne a besoin d'un nom de 1 à 100 caractères"
    assert field_error(html, "window") is not None and "19:00-08:00" in field_error(html, "window")
    assert field_error(html, "throttle") is not None
    assert field_error(html, "reminder_count") == (
        "le nombre de rappels s'écrit en nombre entier, par exemple 2"
    )
    assert field_error(html, "expiry_hours") == (
        "le délai d'expiration (en heures) doit être entre 1 et 720, et non 99999"
    )
    assert 'aria-describedby="window-error"' in html
    # The list was read and kept: not to be chosen again.
    assert field_error(html, "audience") is None
    assert "Fichier reçu : audience.csv, 6 lignes" in html
    token = re.search(r'name="list_token" value="([^"]+)"', html)
    assert token is not None
    assert "+22376000001" not in html

    fixed = client.post(
        "/dashboard/campaigns/new",
        data={
            "csrf_token": csrf_token(html),
            "name": "Mopti, mars",
            "flow": "return_intention",
            "channel": "sms",
            "window": "08:00-19:00",
            "timezone": "Africa/Bamako",
            "start_at": "2026-12-01T08:30",
            "throttle": "5",
            "reminder_count": "2",
            "reminder_interval_hours": "12",
            "expiry_hours": "48",
            "list_token": token.group(1),
        },
        content_type="multipart/form-data",
    )

    assert fixed.status_code == 302
    run_jobs()
    page = text_of(client.get(fixed.headers["Location"]))
    assert count(page, "contacts") == 3  # the same report as the list sent the first time
    with runtime.sessions() as session:
        campaign = session.scalars(select(Campaign)).one()
        assert (campaign.reminder_count, campaign.reminder_interval_hours) == (2, 12)
        assert campaign.expiry_hours == 48
        assert campaign.start_at is not None and campaign.start_at.hour == 8  # Bamako is UTC


def test_the_form_offers_the_time_zones_with_mali_first_and_a_local_start(
    client: FlaskClient, manager: None
) -> None:
    page = client.get("/dashboard/campaigns/new")
    html = text_of(page)

    zones = re.findall(r"<option(?: selected)?>([A-Za-z_/+-]+)</option>", html)
    assert zones[0] == "Africa/Bamako" and "Europe/Paris" in zones and len(zones) > 300
    assert "<option selected>Africa/Bamako</option>" in html
    assert 'type="datetime-local" id="start_at"' in html
    assert 'id="reminder_count"' in html and 'id="expiry_hours"' in html
    assert_light_page(page.get_data(as_text=True))


def test_an_excel_csv_in_windows_1252_with_semicolons_is_taken(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int], manager: None
) -> None:
    excel = "Téléphone;Langue;Région\r\n+22376000001;français;Ségou\r\n+22376000002;fr;Mopti\r\n"

    response = upload(client, "", audience=(io.BytesIO(excel.encode("cp1252")), "liste.csv"))
    run_jobs()

    assert response.status_code == 302
    with runtime.sessions() as session:
        contacts = session.scalars(select(CampaignContact).order_by(CampaignContact.id)).all()
    assert [(c.language, c.region) for c in contacts] == [("fr", "Ségou"), ("fr", "Mopti")]


def test_an_xlsx_list_is_taken(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int], manager: None
) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["phone", "region"])
    sheet.append(["+22376000001", "Ségou"])
    sheet.append([22376000002, "Mopti"])  # typed as a number
    sheet.append(["bonjour", "Gao"])
    data = io.BytesIO()
    book.save(data)

    response = upload(client, "", audience=(io.BytesIO(data.getvalue()), "liste.xlsx"))
    run_jobs()

    assert response.status_code == 302
    html = text_of(client.get(response.headers["Location"]))
    assert count(html, "contacts") == 2
    assert re.search(r'<tr><td class="num">4</td><td>[^<]*</td>', html)  # row 4 refused
    not_a_book = text_of(upload(client, "", audience=(io.BytesIO(b"PK\x03\x04junk"), "x.xlsx")))
    assert field_error(not_a_book, "audience") == (
        "le fichier n'est pas un classeur Excel (.xlsx) lisible : enregistrez-le à nouveau en "
        ".xlsx ou en CSV"
    )


def test_numbers_are_added_to_a_running_campaign_from_its_page(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int], manager: None
) -> None:
    location = upload(client, AUDIENCE).headers["Location"]
    run_jobs()
    html = text_of(press(client, text_of(client.get(location)), "start"))
    assert 'id="status">en cours<' in html and 'id="add-numbers"' in html

    more = "phone\n+22376000021\n+22376000022\n+22376000001\n"  # the last one is already in
    added = client.post(
        f"{location}/contacts",
        data={"csrf_token": csrf_token(html), "audience": (io.BytesIO(more.encode()), "more.csv")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    run_jobs()

    assert "Fichier reçu : more.csv, 3 lignes. L'import est en cours." in text_of(added)
    page = text_of(client.get(location))
    assert count(page, "contacts") == 5 and count(page, "sent") == 5
    assert ("user:manager", "campaign.import") in audit_actions(runtime)
    # All invited: the campaign takes no more numbers, and its page offers none.
    assert 'id="add-numbers"' not in page
    refused = client.post(
        f"{location}/contacts",
        data={"csrf_token": csrf_token(page), "audience": (io.BytesIO(b"nom\nAwa\n"), "x.csv")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "Les numéros n'ont pas été ajoutés : la ligne d'en-tête" in text_of(refused)


def test_cancel_asks_for_confirmation_and_says_it_cannot_be_undone(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int], manager: None
) -> None:
    location = upload(client, AUDIENCE).headers["Location"]
    run_jobs()
    html = text_of(client.get(location))
    assert f'id="action-cancel" href="{location}/cancel"' in html

    confirm = text_of(client.get(f"{location}/cancel"))
    assert "L'annulation est définitive : elle ne peut pas être défaite." in confirm
    unticked = client.post(f"{location}/cancel", data={"csrf_token": csrf_token(confirm)})

    assert unticked.status_code == 422
    assert (
        field_error(text_of(unticked), "confirm") == "Cochez la case pour confirmer l'annulation."
    )
    assert 'id="status">brouillon<' in text_of(client.get(location))
    assert ("user:manager", "campaign.cancel") not in audit_actions(runtime)

    done = client.post(
        f"{location}/cancel",
        data={"csrf_token": csrf_token(confirm), "confirm": "yes"},
        follow_redirects=True,
    )
    assert 'id="status">annulée<' in text_of(done)
    assert ("user:manager", "campaign.cancel") in audit_actions(runtime)


def test_the_campaign_page_shows_its_funnel_by_day_and_by_region(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int], manager: None
) -> None:
    numbers = [f"+2237600010{i}" for i in range(6)]
    location = upload(client, "phone\n" + "\n".join(numbers) + "\n").headers["Location"]
    run_jobs()
    press(client, text_of(client.get(location)), "start")
    run_jobs()
    for number in numbers[:5]:
        household = SmsPhone(client, runtime, run_jobs, number=number)
        for answer in SMS_SURVEY:
            household.send(answer)
    SmsPhone(client, runtime, run_jobs, number=numbers[5]).send("2")  # declines

    page = client.get(location)
    html = text_of(page)

    assert_light_page(page.get_data(as_text=True))
    funnel = dict(re.findall(r'id="funnel-(\w+)">(\d+)<', html))
    assert funnel == {"sent": "6", "delivered": "0", "started": "5", "completed": "5"}
    assert "5 réponses sur 6 invités (83,3\u00a0%)" in html
    assert re.search(
        r'<table id="by-day">.*<td class="num">6</td><td class="num">5</td>', html, re.S
    )
    assert '<tr><td>Bamako</td><td class="num">5</td><td class="num">5</td></tr>' in html
    # Everyone has answered or declined: the campaign is over.
    assert 'id="status">terminée<' in html
    with runtime.sessions() as session:
        statuses = session.scalars(select(CampaignContact.status)).all()
    assert set(statuses) == {ContactStatus.SENT}
    listing = text_of(client.get("/dashboard/campaigns/"))
    assert "5 réponses sur 6 invités (83,3\u00a0%)" in listing and "terminée" in listing


def test_every_text_the_campaign_pages_build_from_a_name_exists_in_every_language() -> None:
    built = {f"campaigns.funnel.{step}" for step in FUNNEL}
    built |= {f"campaigns.form.field.{name}" for name in (*FIELDS, "audience", "form")}
    built.discard("campaigns.form.field.list_token")  # a hidden field: never named
    built.add(f"campaigns.state.{SENDING_DONE}")

    lacking = {lang: sorted(built - texts.keys()) for lang, texts in CATALOGS.texts.items()}
    assert lacking == {lang: [] for lang in LANGUAGES}


def test_a_repeating_campaign_is_set_in_the_form_and_its_page_follows_each_wave(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int], manager: None
) -> None:
    form = text_of(client.get("/dashboard/campaigns/new"))
    assert re.search(r'<input id="repeat_days" name="repeat_days" value="7"', form)
    numbers = [f"+2237600020{i}" for i in range(3)]
    location = upload(client, "phone\n" + "\n".join(numbers) + "\n", repeat_waves="3").headers[
        "Location"
    ]
    run_jobs()
    press(client, text_of(client.get(location)), "start")
    run_jobs()
    with runtime.sessions() as session:
        campaign = session.scalars(select(Campaign)).one()
        due = campaign.next_wave_at
    assert due is not None

    html = text_of(client.get(location))
    assert "Répétée tous les 7 jours : vague 1 sur 3" in html
    assert f"La vague 2 commence le {due:%d/%m/%Y}." in html
    assert 'id="status">en cours<' in html  # between waves: not over
    assert re.search(
        r'<table id="by-wave">.*<tr><th>1</th><td class="num">3 invités sur 3', html, re.S
    )

    assert open_due_waves(runtime, WORKER_ACTOR, due) == [(campaign.id, 2)]
    run_jobs()
    html = text_of(client.get(location))
    assert "vague 2 sur 3" in html
    assert re.search(r'<tr><th>2</th><td class="num">3 invités sur 3', html)
    assert count(html, "sent") == 6


def test_a_repeat_the_campaign_cannot_have_is_said_next_to_its_field(
    client: FlaskClient, manager: None
) -> None:
    refused = upload(client, AUDIENCE, repeat_waves="1", repeat_until="31/02/2027")

    assert refused.status_code == 422
    html = text_of(refused)
    assert field_error(html, "repeat_until") == (
        "'31/02/2027' n'est pas une date : écrivez-la comme 31/03/2026"
    )
    assert field_error(html, "repeat_waves") == (
        "le nombre de vagues doit être entre 2 et 104, et non 1"
    )
    assert 'href="#repeat_waves"' in html
