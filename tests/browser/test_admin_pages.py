"""The administration, enumerators and outbox pages in a real browser (Chromium), in French,
at a desktop width and at 375 px, where nothing may stick out of the page sideways.

An admin adds a user (after a form with every problem shown at once), makes a token and sees
its secret once, revokes it after a confirmation, and reads the audit log filtered by a French
date. A manager revokes an enumerator, reads their activity, and sends a failed message again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from gateway.core.runtime import Runtime
from gateway.core.settings import Settings
from gateway.messaging.models import Message, MessageStatus
from gateway.messaging.sender import AfricasTalkingSender
from tests.at_server import FakeATServer
from tests.browser.test_dashboard import sign_in
from tests.enumerators.test_dashboard_enumerators import survey_one_household
from tests.enumerators.test_enumerators import approved_code, register
from tests.messaging.test_delivery import NUMBER, report
from tests.phone import FULL_SURVEY_RETURN, Phone
from tests.staff import PASSWORD, make_staff

NARROW = {"width": 375, "height": 740}


def assert_fits(page: Any) -> None:
    """Nothing wider than the window: a phone's reader never scrolls the page sideways."""
    # Measured once the stylesheet is in: a page just navigated to may still lay out unstyled.
    page.wait_for_load_state("load")
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= page.evaluate("window.innerWidth"), f"{page.url} is {wide} px wide"


def test_an_admin_manages_accounts_and_tokens_and_reads_the_audit_log(
    page: Any, live_server: str, runtime: Runtime
) -> None:
    make_staff(runtime)
    sign_in(page, live_server, "admin")
    page.click("text=Administration")
    page.wait_for_selector("#users")

    page.fill("#username", "x")
    page.fill("#password", "court")
    page.click("#create-user")
    assert page.inner_text("#username-error").startswith("un identifiant a de 2 à 64")
    assert page.inner_text("#password-error") == "un mot de passe a au moins 12 caractères"
    assert page.input_value("#username") == "x" and page.input_value("#password") == ""
    page.fill("#username", "awa.traore")
    page.fill("#password", PASSWORD)
    page.select_option("#role", "manager")
    page.click("#create-user")
    page.wait_for_selector("text=Utilisateur awa.traore créé.")
    assert "awa.traore" in page.inner_text("#users")

    page.click("#users >> text=awa.traore")
    page.click("#disable")
    page.wait_for_selector("text=Le compte awa.traore est désactivé.")
    page.set_viewport_size(NARROW)
    assert_fits(page)

    page.click("text=Jetons d'API")
    page.fill("#name", "export-hebdo")
    page.click("#create-token")
    secret = page.input_value("#secret")
    assert len(secret) >= 43
    assert "n'est affiché qu'une fois" in page.inner_text(".secret")
    assert_fits(page)
    page.goto(f"{live_server}/dashboard/admin/tokens")
    assert secret not in page.content()
    page.click("#tokens >> text=Révoquer")
    page.click("#revoke")
    page.wait_for_selector("text=Le jeton 'export-hebdo' est révoqué.")

    page.click("text=Journal d'audit")
    today = datetime.now(UTC).strftime("%d/%m/%Y")
    page.goto(f"{live_server}/dashboard/admin/audit?since={today}&actor=user:admin")
    events = page.inner_text("#events")
    for action in ("user.create", "user.disable", "token.create", "token.revoke"):
        assert action in events
    assert page.inner_text("#total") == "5 au total."  # the sign-in, and the four changes
    assert_fits(page)


def test_a_manager_revokes_an_enumerator_and_sends_a_failed_message_again(
    page: Any,
    live_server: str,
    client: FlaskClient,
    runtime: Runtime,
    settings: Settings,
    run_jobs: Callable[..., int],
    at_server: FakeATServer,
) -> None:
    make_staff(runtime)
    register(runtime, run_jobs)
    code = approved_code(runtime, settings)
    run_jobs()
    survey_one_household(client, run_jobs)
    household = Phone(client, number=NUMBER)
    household.dial()
    household.answer_all(FULL_SURVEY_RETURN)
    sender = AfricasTalkingSender("sandbox", "k", api_url=at_server.url)
    run_jobs(sender)

    sign_in(page, live_server, "manager")
    page.set_viewport_size(NARROW)
    page.click("text=Enquêteurs")
    page.click("#statuses >> text=Approuvés (1)")
    row = page.inner_text("#enumerators tbody")
    assert code in row and "+22365****78" in row
    assert_fits(page)
    page.click("#enumerators >> text=Révoquer")
    page.wait_for_selector("text=Awa Traore est révoqué(e)")
    assert "Révoqués (1)" in page.inner_text("#statuses")
    # The work of the day is still there, under the code kept for good.
    page.click("#activity-link")
    assert page.inner_text(f"#activity-{code}").startswith(f"{code} · Awa Traore")
    assert "Ménages enquêtés" in page.inner_text("table.activity")
    assert_fits(page)

    # The household's confirmation: AT took it, then the network could not deliver it.
    with runtime.sessions() as session:
        ours = session.scalars(select(Message).where(Message.to_masked == "+22376****56")).one()
    assert ours.provider_id is not None
    report(client, "Failed", provider_id=ours.provider_id, failureReason="AbsentSubscriber")
    run_jobs(sender)
    page.click("text=Messages")
    page.select_option("#status", "failed")
    page.click("#filter")
    assert page.inner_text("#total") == "1 au total."
    row = page.inner_text(f"#message-{ours.id}")
    assert "téléphone éteint ou hors réseau" in row and "+22376****56" in row
    assert_fits(page)
    page.click(f"#message-{ours.id} >> text=Renvoyer")
    page.wait_for_selector("text=Le message repart")
    assert "status=failed" in page.url  # back to the list as filtered
    run_jobs(sender)
    with runtime.sessions() as session:
        assert session.get(Message, ours.id).status is MessageStatus.SENT
