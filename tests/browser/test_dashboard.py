"""The dashboard in a real browser (Chromium), served over real HTTP.

A manager signs in, uploads a list (a worker imports it while the page waits) and starts an SMS
campaign; the workers invite, households answer by SMS, and the campaign page and the results
chart follow. Jobs run in this process (``run_jobs``). The simulator page has its own file,
test_simulator.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient

from gateway.core.runtime import Runtime
from tests.phone import FULL_SURVEY_RETURN, SmsPhone
from tests.staff import PASSWORD, make_staff
from tests.windows import open_window

HOUSEHOLDS = [f"+2237650000{i}" for i in range(5)]
AUDIENCE = "telephone;langue\n" + "".join(f"{n};fr\n" for n in HOUSEHOLDS) + "12;fr\n"


def sign_in(page: Any, base: str, username: str) -> None:
    """Open the dashboard, get sent to the sign-in form, and sign in."""
    page.goto(f"{base}/dashboard/")
    assert "/dashboard/login" in page.url
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url(f"{base}/dashboard/campaigns/")


def count(page: Any, name: str) -> int:
    """One count on the campaign page."""
    return int(page.inner_text(f"#count-{name}"))


def test_a_manager_runs_an_sms_campaign_and_reads_the_results(
    page: Any,
    live_server: str,
    client: FlaskClient,
    runtime: Runtime,
    run_jobs: Callable[..., int],
) -> None:
    make_staff(runtime)
    sign_in(page, live_server, "manager")

    page.click("#new-campaign")
    page.fill("#name", "Sevare, mars")
    page.select_option("#flow", "return_intention")
    page.check("#channel-sms")
    page.set_input_files(
        "#audience",
        files=[{"name": "liste.csv", "mimeType": "text/csv", "buffer": AUDIENCE.encode()}],
    )
    window = open_window()  # open now, whatever the hour the test runs at
    page.fill("#window", window.window)
    page.select_option("#timezone", window.timezone)
    page.fill("#throttle", "50")
    page.click("#create")

    # A worker imports the list; meanwhile the page says so, and reloads itself until it is done.
    page.wait_for_selector("#import-status")
    assert page.inner_text("#import-status").startswith("La liste attend d'être importée.")
    run_jobs()
    # The import report: five numbers taken, the last row refused by its number in the file.
    page.wait_for_selector("#report")
    assert (
        page.inner_text("#report").split()
        == "Numéros importés 5 Doublons 0 Désinscrits (STOP) 0 Lignes invalides 1".split()
    )
    assert page.inner_text("#invalid-rows tbody td").strip() == "7"
    assert page.inner_text("#status") == "brouillon"

    page.click("#action-start")
    page.wait_for_selector("text=Campagne démarrée")
    assert page.inner_text("#status") == "en cours"
    assert count(page, "sent") == 0

    run_jobs()  # the fan-out: every household gets the survey's first question
    page.reload()
    assert count(page, "sent") == 5 and count(page, "completed") == 0

    for number in HOUSEHOLDS:
        household = SmsPhone(client, runtime, run_jobs, number=number)
        for answer in FULL_SURVEY_RETURN:
            household.post(answer)
    run_jobs()
    page.reload()
    assert count(page, "completed") == 5 and count(page, "started") == 5
    assert page.inner_text("#status") == "terminée"

    page.click("text=Voir les résultats de cette campagne")
    page.wait_for_selector("#chart-intention svg")
    assert page.inner_text("#households") == "5"
    # Everyone wants to return: one bar; the other answers are under 5 households, no bar.
    intention = page.locator("#chart-intention svg")
    assert intention.locator("rect").count() == 1
    # The share as a French reader writes it (CLDR): a comma and a no-break space.
    assert "Retourner au lieu d'origine: 100,0\xa0%" in intention.locator("desc").text_content()
    assert "Rester ici: <5" in intention.locator("desc").text_content()
    # Food first and household items second, for all five: two bars.
    assert page.locator("#chart-needs svg rect").count() == 2
    assert page.locator("#chart-current_region svg rect").count() == 1

    with page.expect_download() as download:
        page.click("text=CSV")
    lines = download.value.path().read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 + 5 and lines[0].startswith("submission_id,")
