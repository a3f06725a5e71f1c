"""The campaign pages in a real browser (Chromium): the new-campaign form refused with every
problem at once and its list kept, a cancellation confirmed, and every dashboard page a staff
member can reach laid out within a phone's 375 px.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask.testing import FlaskClient
from sqlalchemy import select

from gateway.campaigns.models import Campaign
from gateway.core.runtime import Runtime
from tests.browser.test_dashboard import sign_in
from tests.phone import FULL_SURVEY_RETURN, SmsPhone
from tests.staff import make_staff
from tests.windows import open_window

HOUSEHOLDS = [f"+2237650001{i}" for i in range(5)]
# As Excel in French saves it: Windows-1252, semicolons, an accented region.
EXCEL_CSV = ("Téléphone;Région\r\n" + "".join(f"{n};Ségou\r\n" for n in HOUSEHOLDS)).encode(
    "cp1252"
)
PHONE_WIDTH = 375


def fill_form(page: Any, name: str, window: str, timezone: str) -> None:
    page.fill("#name", name)
    page.select_option("#flow", "return_intention")
    page.check("#channel-sms")
    page.fill("#window", window)
    page.select_option("#timezone", timezone)
    page.fill("#throttle", "50")


def new_campaign(page: Any, base: str, name: str) -> None:
    """Create an SMS campaign through the form, as a manager."""
    page.goto(f"{base}/dashboard/campaigns/new")
    window = open_window()
    fill_form(page, name, window.window, window.timezone)
    page.set_input_files(
        "#audience", files=[{"name": "liste.csv", "mimeType": "text/csv", "buffer": EXCEL_CSV}]
    )
    page.click("#create")
    page.wait_for_selector("#status")


def test_a_refused_form_shows_every_problem_and_keeps_the_file(
    page: Any, live_server: str, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    make_staff(runtime)
    sign_in(page, live_server, "manager")
    page.goto(f"{live_server}/dashboard/campaigns/new")
    assert page.locator("#timezone option").first.inner_text() == "Africa/Bamako"
    fill_form(page, "", "19:00-08:00", "Africa/Bamako")
    page.fill("#expiry_hours", "99999")
    page.set_input_files(
        "#audience", files=[{"name": "liste.csv", "mimeType": "text/csv", "buffer": EXCEL_CSV}]
    )
    page.click("#create")

    page.wait_for_selector("#problems")
    assert page.locator("#problems li").count() == 3
    assert page.inner_text("#name-error").startswith("une campagne a besoin d'un nom")
    assert "19:00-08:00" in page.inner_text("#window-error")
    assert "99999" in page.inner_text("#expiry_hours-error")
    assert page.inner_text("#received") == "Fichier reçu : liste.csv, 5 lignes"
    assert page.get_attribute("#window", "aria-invalid") == "true"

    # Corrected, without choosing the file again.
    page.fill("#name", "Ségou, avril")
    page.fill("#window", open_window().window)
    page.select_option("#timezone", open_window().timezone)
    page.fill("#expiry_hours", "")
    page.click("#create")
    page.wait_for_selector("#import-status")
    run_jobs()
    page.wait_for_selector("#report")
    assert page.inner_text("#count-contacts") == "5"


def test_cancelling_is_confirmed_first(
    page: Any, live_server: str, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    make_staff(runtime)
    sign_in(page, live_server, "manager")
    new_campaign(page, live_server, "Gao, mai")
    run_jobs()

    page.click("#action-cancel")
    assert "ne peut pas être défaite" in page.inner_text("#cancel-warning")
    page.click("#confirm-cancel")  # the box is not ticked: nothing is cancelled
    page.wait_for_selector("#confirm-error")
    page.check("#confirm")
    page.click("#confirm-cancel")
    page.wait_for_selector("text=Campagne annulée.")
    assert page.inner_text("#status") == "annulée"


def test_every_page_fits_a_phone_and_chart_labels_stay_readable(
    page: Any,
    live_server: str,
    client: FlaskClient,
    runtime: Runtime,
    run_jobs: Callable[..., int],
    tmp_path: Path,
) -> None:
    make_staff(runtime)
    page.set_viewport_size({"width": PHONE_WIDTH, "height": 800})
    sign_in(page, live_server, "admin")
    new_campaign(page, live_server, "Campagne de suivi des retours, région de Ségou, avril 2026")
    run_jobs()
    page.click("#action-start")
    page.wait_for_selector("text=Campagne démarrée")
    run_jobs()
    campaign_url = page.url
    for number in HOUSEHOLDS:
        household = SmsPhone(client, runtime, run_jobs, number=number)
        for answer in FULL_SURVEY_RETURN:
            household.post(answer)
    run_jobs()

    page.goto(f"{live_server}/dashboard/campaigns/")
    links = {
        page.url,
        campaign_url,
        f"{live_server}/dashboard/campaigns/new",
        f"{live_server}/dashboard/results/?flow=return_intention",
    }
    links |= {
        f"{live_server}{href}"
        for href in page.eval_on_selector_all(
            ".nav a", "els => els.map(e => e.getAttribute('href'))"
        )
    }
    too_wide = {}
    for url in sorted(links):
        page.goto(url)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE_WIDTH:
            too_wide[url] = width
        page.screenshot(path=str(tmp_path / "narrow.png"), full_page=True)
    assert too_wide == {}

    # The results charts keep their drawn size (12px labels), scrolling inside their box.
    page.goto(f"{live_server}/dashboard/results/?flow=return_intention")
    page.wait_for_selector("#chart-intention svg")
    # The size a label is drawn at: its font size times the SVG's scale on screen.
    sizes = page.eval_on_selector_all(
        ".chart svg text",
        "els => els.map(e => e.getScreenCTM().a * parseFloat(getComputedStyle(e).fontSize))",
    )
    assert sizes and min(sizes) >= 12
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH


def test_a_weekly_repeat_is_chosen_in_the_form_and_shown_on_a_phone(
    page: Any, live_server: str, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    make_staff(runtime)
    page.set_viewport_size({"width": PHONE_WIDTH, "height": 800})
    sign_in(page, live_server, "manager")
    page.goto(f"{live_server}/dashboard/campaigns/new")
    assert page.input_value("#repeat_days") == "7"
    assert page.inner_text("label[for=repeat_waves]") == "Nombre de vagues"
    window = open_window()
    fill_form(page, "Ségou, chaque semaine", window.window, window.timezone)
    page.fill("#repeat_waves", "4")
    last = date.today() + timedelta(days=60)
    page.fill("#repeat_until", last.isoformat())  # the browser's date picker
    page.set_input_files(
        "#audience", files=[{"name": "liste.csv", "mimeType": "text/csv", "buffer": EXCEL_CSV}]
    )
    page.click("#create")
    page.wait_for_selector("#status")
    run_jobs()
    page.reload()
    page.click("#action-start")
    page.wait_for_selector("text=Campagne démarrée")
    run_jobs()
    page.reload()

    repeat = page.inner_text("#repeat")
    assert repeat.startswith("Répétée tous les 7 jours : vague 1 sur 4")
    assert f"(vagues jusqu'au {last:%d/%m/%Y})" in repeat
    with runtime.sessions() as session:
        due = session.scalars(select(Campaign.next_wave_at)).one()
    assert due is not None
    next_day = due.astimezone(ZoneInfo(window.timezone)).date()
    assert page.inner_text("#next-wave") == f"La vague 2 commence le {next_day:%d/%m/%Y}."
    assert page.locator("#by-wave tbody tr").count() == 1
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_WIDTH
