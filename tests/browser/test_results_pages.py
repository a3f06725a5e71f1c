"""The results, submissions and bulletin pages in a real browser (Chromium), in French.

A viewer filters with a French date, reads names and labels, pages through the submissions
and downloads them labelled, on a desktop and on a 375 px wide phone where nothing may stick
out of the page.
"""

from __future__ import annotations

import re
from typing import Any

from gateway.core.runtime import Runtime
from tests.households import FORTY, add
from tests.staff import PASSWORD, make_staff

PHONE = {"width": 375, "height": 740}


def signed_in_viewer(page: Any, base: str, runtime: Runtime, target: str) -> None:
    """Forty households stored; a viewer signs in on the way to ``target``."""
    make_staff(runtime)
    with runtime.sessions() as session:
        add(session, FORTY)
    page.goto(f"{base}{target}")
    page.fill("#username", "viewer")
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url(f"{base}{target}*")


def overflow(page: Any) -> int:
    """How many pixels the page is wider than the window (0 when nothing sticks out)."""
    width: int = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    return width


def test_a_french_date_filters_and_a_bad_one_is_explained_in_french(
    page: Any, live_server: str, runtime: Runtime
) -> None:
    signed_in_viewer(page, live_server, runtime, "/dashboard/results/")
    assert page.inner_text("#households") == "40"
    assert page.locator("#flow option:checked").inner_text() == "Intentions de retour et besoins"

    page.fill("#since", "02/03/2025")
    page.click("#show")
    assert page.inner_text("#households") == "25"
    desc = page.locator("#chart-intention svg desc").text_content()
    assert "Rester ici: " in desc and "," in desc and "." not in desc.split("Rester ici: ")[1][:6]

    page.fill("#since", "31/02/2025")
    page.fill("#until", "hier")
    page.click("#show")
    assert page.inner_text("#since-error") == (
        "« 31/02/2025 » n'est pas une date. Écrivez-la comme 31/03/2026."
    )
    assert (
        page.inner_text("#until-error")
        == "« hier » n'est pas une date. Écrivez-la comme 31/03/2026."
    )
    assert page.get_attribute("#since", "aria-invalid") == "true"


def test_submissions_with_labels_codes_pages_and_a_labelled_download(
    page: Any, live_server: str, runtime: Runtime
) -> None:
    signed_in_viewer(page, live_server, runtime, "/dashboard/submissions/")
    assert page.inner_text("#total") == "40 réponses correspondent au filtre."
    first = page.locator("#submissions tbody tr").first
    assert "Bamako" in first.inner_text() and "bamako" not in first.inner_text()
    page.click("#show-codes")
    assert "bamako" in page.locator("#submissions tbody tr").first.inner_text()

    page.click("#next-page")
    assert page.locator("#submissions tbody tr").count() == 15  # 40 = 25 + 15

    page.select_option("#status", "completed")
    page.fill("#since", "02/03/2025")
    page.click("#show")
    assert page.inner_text("#total") == "25 réponses correspondent au filtre."
    with page.expect_download() as download:
        page.click("#download-csv")
    assert download.value.suggested_filename.endswith("_labels_fr.csv")
    lines = download.value.path().read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 + 25
    assert "Retourner au lieu d'origine" in "\n".join(lines) or "Rester ici" in "\n".join(lines)


def test_the_bulletin_opens_as_one_page_with_its_charts(
    page: Any, live_server: str, runtime: Runtime
) -> None:
    signed_in_viewer(page, live_server, runtime, "/dashboard/results/")
    page.click("#bulletin")
    page.wait_for_selector("#chart-intention svg")
    assert page.inner_text("#flow-name") == "Intentions de retour et besoins"
    assert page.locator("svg").count() == 4
    # Printed on A4, the bulletin is one page.
    pdf = page.pdf(format="A4", print_background=True)
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1


def test_the_pages_fit_a_375_px_phone(page: Any, live_server: str, runtime: Runtime) -> None:
    page.set_viewport_size(PHONE)
    signed_in_viewer(page, live_server, runtime, "/dashboard/results/")
    for target in (
        "/dashboard/results/?since=31/02/2025",
        "/dashboard/results/",
        "/dashboard/submissions/",
        "/dashboard/results/bulletin",
    ):
        page.goto(f"{live_server}{target}")
        assert overflow(page) <= 0, target
    # The wide table scrolls inside its box, not the page.
    page.goto(f"{live_server}/dashboard/submissions/")
    box = page.evaluate("document.querySelector('.scroll').scrollWidth")
    assert box > PHONE["width"]
    # Chart labels stay readable: drawn at 12 px, never shrunk below 10 px on screen.
    for target in ("/dashboard/results/", "/dashboard/results/bulletin"):
        page.goto(f"{live_server}{target}")
        scale = page.evaluate(
            "document.querySelector('#chart-intention svg').getBoundingClientRect().width / 480"
        )
        assert 12 * scale >= 10, target
