"""The phone simulator in a real browser (Chromium), served over real HTTP.

A manager signs in on the way to the simulator page and takes the survey on the phone it
hands out, by USSD and by SMS; a new phone is another simulator number. Jobs run in this
process (``run_jobs``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect

from gateway.core.runtime import Runtime
from gateway.surveys.simulator_numbers import is_simulator_number
from tests.phone import FULL_SURVEY_RETURN
from tests.staff import PASSWORD, make_staff


def open_simulator(page: Any, base: str, runtime: Runtime) -> str:
    """Go to the simulator, sign in as a manager on the way; the phone's number."""
    make_staff(runtime)
    page.goto(f"{base}/simulator")
    assert "/dashboard/login" in page.url
    page.fill("#username", "manager")
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url(f"{base}/simulator")
    number: str = page.inner_text("#sim-phone")
    assert is_simulator_number(number)
    return number


def test_the_survey_on_the_simulator_by_ussd(page: Any, live_server: str, runtime: Runtime) -> None:
    open_simulator(page, live_server, runtime)
    screen = page.locator("#ussd-screen")

    page.click("#ussd-dial")
    # Locator assertions, not wait_for_function: evaluating a string would break our CSP.
    expect(screen).to_have_text(re.compile(r"^OIM/DNDS"))
    assert "1. J'accepte" in screen.inner_text()
    page.click(".key[data-key='1']")  # on the keypad
    before = screen.inner_text()
    page.click("#ussd-send")
    # Each answer only once the previous screen has come: the page ignores typing meanwhile.
    expect(screen).not_to_have_text(before)
    for answer in FULL_SURVEY_RETURN[1:]:
        before = screen.inner_text()
        page.fill("#ussd-input", answer)
        page.press("#ussd-input", "Enter")
        expect(screen).not_to_have_text(before)

    assert re.match(r"Merci\. Vos reponses sont enregistrees", screen.inner_text())
    assert "(session terminée)" in screen.inner_text()
    assert page.is_disabled("#ussd-input") and page.is_enabled("#ussd-dial")


def test_the_simulator_by_sms_shows_replies_as_they_arrive(
    page: Any, live_server: str, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    number = open_simulator(page, live_server, runtime)
    page.click("#mode-sms")
    assert page.is_visible("#sms-pane") and not page.is_visible("#ussd-pane")

    page.fill("#sms-input", "ENQUETE")
    page.press("#sms-input", "Enter")
    page.wait_for_selector(".bubble.mine")
    # The post reaches the gateway, then the workers reply: run them until the reply shows.
    for _ in range(50):
        run_jobs()
        if page.query_selector(".bubble.theirs") is not None:
            break
        page.wait_for_timeout(100)

    reply = page.wait_for_selector(".bubble.theirs")
    assert reply is not None and reply.inner_text().startswith("OIM/DNDS")

    # A new phone: another simulator number, an empty thread.
    page.click("#new-phone")
    page.wait_for_url(f"{live_server}/simulator")
    assert page.inner_text("#sim-phone") != number
    page.click("#mode-sms")
    assert page.query_selector(".bubble") is None
