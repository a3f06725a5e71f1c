"""The Surveys page in a real browser, on a 375 px wide phone: a manager uploads an XLSForm,
reads the import report, tries the draft in the phone simulator, publishes it, and finds the
survey listed with its version."""

from __future__ import annotations

from typing import Any

from gateway.core.runtime import Runtime
from tests.browser.test_dashboard import sign_in
from tests.staff import make_staff
from tests.xlsforms import SITE_SURVEY, site_form


def test_a_manager_publishes_an_xlsform_from_a_phone_sized_screen(
    page: Any, live_server: str, runtime: Runtime
) -> None:
    make_staff(runtime)
    page.set_viewport_size({"width": 375, "height": 800})
    sign_in(page, live_server, "manager")

    page.click("text=Enquêtes")
    page.wait_for_url(f"{live_server}/dashboard/surveys/")
    geopoint = ["geopoint", "gps", "Où?", "Where?", *[""] * (len(SITE_SURVEY[0]) - 4)]
    page.set_input_files(
        "#form", files=[_xlsx("mauvais.xlsx", site_form(survey=[*SITE_SURVEY, geopoint]))]
    )
    page.click("text=Importer comme brouillon")
    page.wait_for_selector("#form-problems")
    assert "feuille survey, ligne 11, colonne type" in page.inner_text("#form-problems")

    page.set_input_files("#form", files=[_xlsx("sites.xlsx", site_form())])
    page.click("text=Importer comme brouillon")
    page.wait_for_selector("text=site_assessment version 2026030101 importée comme brouillon")
    page.locator(".report >> text=Essayer dans le simulateur").click()
    page.wait_for_url(f"{live_server}/simulator")
    assert "site_assessment version 2026030101" in page.inner_text("#preview")
    page.click("#ussd-dial")
    page.wait_for_selector("#ussd-screen >> text=Acceptez-vous de repondre?")
    page.goto(f"{live_server}/dashboard/surveys/")
    page.locator("#flow-site_assessment >> text=Publier la version 2026030101").click()
    page.wait_for_selector("text=site_assessment version 2026030101 publiée")
    row = page.locator("#flow-site_assessment")
    assert "Version en service : 2026030101" in row.inner_text()
    # Nothing wider than the phone: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375


def _xlsx(name: str, content: bytes) -> dict[str, Any]:
    mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return {"name": name, "mimeType": mime, "buffer": content}
