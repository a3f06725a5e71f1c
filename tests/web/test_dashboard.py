"""The staff dashboard and the simulator page, through Flask's test client (no browser).

Signing in, every page by role and signed out, CSRF refusals, page weight and the rule that no
page carries inline script, the two languages and enumerators. Campaigns and results are in
test_dashboard_campaigns, the simulator in test_simulator; the browser tests (tests/browser)
drive the same pages in Chromium.
"""

from __future__ import annotations

import csv
import io
import re
import string
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient
from sqlalchemy import select

from gateway.campaigns.models import CampaignChannel, CampaignStatus
from gateway.campaigns.progress import Progress
from gateway.core.crypto import pseudonymise
from gateway.core.i18n import CATALOGS, LANGUAGES, missing_keys
from gateway.core.runtime import Runtime
from gateway.core.settings import Settings
from gateway.enumerators.models import Enumerator, EnumeratorStatus
from gateway.messaging.models import Message
from gateway.staff.models import Role
from gateway.web.app import create_app
from gateway.web.dashboard import base as dashboard_module
from gateway.web.dashboard.campaigns import ACTIONS
from tests.enumerators.test_enumerators import ENUMERATOR, register
from tests.phone import Phone
from tests.staff import (
    PASSWORD,
    assert_light_page,
    audit_actions,
    complete_surveys,
    csrf_token,
    make_staff,
    page_of,
    sign_in,
    text_of,
)

# Each page and the least role that may see it.
PAGES = {
    "/dashboard/campaigns/": "viewer",
    "/dashboard/campaigns/new": "manager",
    "/dashboard/results/": "viewer",
    "/dashboard/enumerators/": "manager",
}
RANK = ["viewer", "manager", "admin"]


@pytest.fixture
def staff(runtime: Runtime) -> None:
    """Accounts ``viewer``, ``manager`` and ``admin``."""
    make_staff(runtime)


# -- signing in ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", [*PAGES, "/dashboard/"])
def test_signed_out_staff_are_sent_to_sign_in(client: FlaskClient, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/dashboard/login?next=")


def test_sign_in_then_back_to_the_page_asked_for(
    client: FlaskClient, runtime: Runtime, staff: None
) -> None:
    page = client.get("/dashboard/login?next=/dashboard/results/").get_data(as_text=True)
    assert 'name="next" value="/dashboard/results/"' in page

    response = client.post(
        "/dashboard/login",
        data={
            "username": "Viewer ",  # as people type it
            "password": PASSWORD,
            "next": "/dashboard/results/",
            "csrf_token": csrf_token(page),
        },
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard/results/"
    assert ("user:viewer", "login") in audit_actions(runtime)
    assert client.get("/dashboard/results/").status_code == 200


def test_a_wrong_password_is_refused_with_a_message(
    client: FlaskClient, runtime: Runtime, staff: None
) -> None:
    response = sign_in(client, "manager", "not the password")

    assert response.status_code == 200
    assert "Nom d'utilisateur ou mot de passe incorrect." in text_of(response)
    assert client.get("/dashboard/campaigns/").status_code == 302
    assert not [action for action in audit_actions(runtime) if action[1] == "login"]


def test_sign_in_never_sends_the_browser_to_another_site(client: FlaskClient, staff: None) -> None:
    page = client.get("/dashboard/login").get_data(as_text=True)
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = client.post(
            "/dashboard/login",
            data={
                "username": "viewer",
                "password": PASSWORD,
                "next": target,
                "csrf_token": csrf_token(page),
            },
        )
        assert response.headers["Location"] == "/dashboard/"
        client.post("/dashboard/logout", data={"csrf_token": csrf_token(page_of(client))})
        page = client.get("/dashboard/login").get_data(as_text=True)


def test_many_wrong_passwords_lock_the_username_for_a_while(
    client: FlaskClient, staff: None
) -> None:
    for _ in range(10):
        sign_in(client, "admin", "guess guess guess")

    response = sign_in(client, "admin")  # the right password, too late

    assert "Trop d'essais" in text_of(response)
    assert client.get("/dashboard/campaigns/").status_code == 302


def test_sign_out_ends_the_session(client: FlaskClient, staff: None) -> None:
    sign_in(client, "viewer")
    token = csrf_token(page_of(client))

    response = client.post("/dashboard/logout", data={"csrf_token": token})

    assert response.headers["Location"] == "/dashboard/login"
    assert client.get("/dashboard/results/").status_code == 302


def test_a_deactivated_account_is_signed_out_at_once(
    client: FlaskClient, runtime: Runtime, staff: None
) -> None:
    from gateway.staff.models import User

    sign_in(client, "manager")
    with runtime.sessions.begin() as session:
        user = session.scalars(select(User).where(User.username == "manager")).one()
        user.active = False

    assert client.get("/dashboard/campaigns/").status_code == 302


def test_a_new_session_key_signs_everyone_out_and_changes_no_pseudonym(
    client: FlaskClient,
    settings: Settings,
    redis_client: redis.Redis,
    run_jobs: Callable[..., int],
    staff: None,
) -> None:
    complete_surveys(client, run_jobs, 1)  # the household +22376120000
    sign_in(client, "viewer")
    before = respondents(client)
    cookie = client.get_cookie("session")
    assert cookie is not None

    def restarted(session_key: str) -> FlaskClient:
        """The gateway started again with this session key; the browser keeps its cookie."""
        app = create_app(replace(settings, session_key=session_key), client=redis_client)
        browser = app.test_client()
        browser.set_cookie("session", cookie.value)
        return browser

    assert restarted(settings.session_key).get("/dashboard/results/").status_code == 200
    rotated = restarted("Zq4Lw8Xn1Vr6Tb3Ym9Kc2Hd7Jf0Gs5Pa_")

    assert rotated.get("/dashboard/results/").status_code == 302
    sign_in(rotated, "viewer")
    assert respondents(rotated) == before == [pseudonymise("+22376120000", settings.secret_key)]
    # The household dialling again is still known as the one that answered.
    assert Phone(rotated, number="+22376120000").dial() == (
        "END Merci, vous avez deja repondu a ce sondage."
    )


def respondents(client: FlaskClient) -> list[str]:
    """The respondent column of the results export, as a signed-in viewer downloads it."""
    export = client.get("/dashboard/results/export.csv?flow=return_intention")
    assert export.status_code == 200
    return [row["respondent"] for row in csv.DictReader(io.StringIO(export.get_data(as_text=True)))]


# -- roles, CSRF, weight --------------------------------------------------------------------


@pytest.mark.parametrize("role", RANK)
@pytest.mark.parametrize("path", list(PAGES))
def test_each_page_by_role(client: FlaskClient, staff: None, role: str, path: str) -> None:
    sign_in(client, role)

    response = client.get(path)

    allowed = RANK.index(role) >= RANK.index(PAGES[path])
    assert response.status_code == (200 if allowed else 403)
    html = response.get_data(as_text=True)
    assert_light_page(html)
    assert response.headers["Cache-Control"] == "no-store"
    if not allowed:
        assert "Votre rôle ne permet pas" in html


def test_the_login_page_is_light_too(client: FlaskClient) -> None:
    response = client.get("/dashboard/login")
    assert response.status_code == 200
    assert_light_page(response.get_data(as_text=True))


def test_a_post_without_the_csrf_token_is_refused(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int], staff: None
) -> None:
    register(runtime, run_jobs)
    sign_in(client, "manager")
    enumerator = pending_enumerator(runtime)
    url = f"/dashboard/enumerators/{enumerator.id}/approve"

    missing = client.post(url, data={})
    wrong = client.post(url, data={"csrf_token": "x" * 43})

    assert missing.status_code == 400 and wrong.status_code == 400
    assert "Le formulaire a expiré" in missing.get_data(as_text=True)
    assert pending_enumerator(runtime).status is EnumeratorStatus.PENDING
    # Signing in is a POST as well: a forged sign-in form is refused before any password check.
    client.post("/dashboard/logout", data={"csrf_token": csrf_token(page_of(client))})
    forged = client.post("/dashboard/login", data={"username": "admin", "password": PASSWORD})
    assert forged.status_code == 400


def pending_enumerator(runtime: Runtime) -> Enumerator:
    """The one registration of the test."""
    with runtime.sessions() as session:
        return session.scalars(select(Enumerator)).one()


def test_the_interface_speaks_french_until_english_is_chosen(
    client: FlaskClient, staff: None
) -> None:
    assert "Connexion" in client.get("/dashboard/login").get_data(as_text=True)

    response = client.get("/dashboard/language/en?next=/dashboard/login")

    assert response.headers["Location"] == "/dashboard/login"
    assert "Sign in" in client.get("/dashboard/login").get_data(as_text=True)
    sign_in(client, "viewer")  # the choice outlives signing in
    assert ">Results<" in page_of(client)
    assert client.get("/dashboard/language/de").status_code == 404


def test_every_catalog_has_every_text() -> None:
    assert LANGUAGES[0] == "fr" and "en" in LANGUAGES
    assert missing_keys() == {lang: [] for lang in LANGUAGES}


def test_no_translation_uses_a_placeholder_the_french_text_lacks() -> None:
    # The French text is filled with the values the code gives; a placeholder of its own in a
    # translation would break that page in that language only.
    french = CATALOGS.texts["fr"]
    strays = {
        (lang, key, name)
        for lang, texts in CATALOGS.texts.items()
        for key, text in texts.items()
        for name in placeholders(text) - placeholders(french.get(key, ""))
    }
    assert sorted(strays) == []


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_every_text_the_pages_ask_for_exists() -> None:
    # A missing key shows as the key itself: find them here, not on a page in the field.
    web = Path(dashboard_module.__file__).parents[1]
    sources = [*web.glob("templates/dashboard/*.html"), *web.glob("dashboard/*.py")]
    sources.append(web / "simulator.py")
    asked = set()
    for source in sources:
        asked |= set(re.findall(r"\bt\(['\"]([a-z_.]+)['\"][,)]", source.read_text()))
    # Keys made from a value: every value they can be made from.
    asked |= {f"campaigns.state.{s}" for s in CampaignStatus}
    asked |= {f"campaigns.channel.{c}" for c in CampaignChannel}
    asked |= {f"campaigns.count.{name}" for name in Progress().as_dict()}
    actions = {action for offered in ACTIONS.values() for action in offered}
    asked |= {f"campaigns.{kind}.{a}" for kind in ("action", "done") for a in actions}
    asked |= {f"role.{role}" for role in Role} | {"error.403", "error.404"}

    assert len(asked) > 100
    assert sorted(asked - CATALOGS.texts["fr"].keys()) == []


# -- enumerators ----------------------------------------------------------------------------


def test_a_manager_approves_a_registration_as_the_cli_does(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int], staff: None
) -> None:
    register(runtime, run_jobs)
    sign_in(client, "manager")
    page = client.get("/dashboard/enumerators/").get_data(as_text=True)
    assert "Awa Traore" in page and "+22365****78" in page and ENUMERATOR not in page
    enumerator = pending_enumerator(runtime)

    response = client.post(
        f"/dashboard/enumerators/{enumerator.id}/approve",
        data={"csrf_token": csrf_token(page)},
        follow_redirects=True,
    )

    approved = pending_enumerator(runtime)
    assert approved.status is EnumeratorStatus.APPROVED and approved.code
    assert f"code {approved.code}" in response.get_data(as_text=True)
    # The Redis marker that shows the USSD enumerator menu, and the SMS with the code.
    assert runtime.store.enumerator_code(approved.respondent_id) == approved.code
    run_jobs()
    with runtime.sessions() as session:
        bodies = [m.body for m in session.scalars(select(Message))]
    assert any(approved.code in body for body in bodies)
    assert ("user:manager", "enumerator.approve") in audit_actions(runtime)


def test_a_manager_rejects_a_registration(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int], staff: None
) -> None:
    register(runtime, run_jobs)
    sign_in(client, "admin")
    page = client.get("/dashboard/enumerators/").get_data(as_text=True)
    enumerator = pending_enumerator(runtime)

    client.post(
        f"/dashboard/enumerators/{enumerator.id}/reject", data={"csrf_token": csrf_token(page)}
    )
    again = client.post(
        f"/dashboard/enumerators/{enumerator.id}/reject",
        data={"csrf_token": csrf_token(page)},
        follow_redirects=True,
    )

    assert pending_enumerator(runtime).status is EnumeratorStatus.REJECTED
    assert runtime.store.enumerator_code(enumerator.respondent_id) is None
    assert "Aucune inscription en attente." in again.get_data(as_text=True)
    assert ("user:admin", "enumerator.reject") in audit_actions(runtime)


def test_a_viewer_cannot_decide(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int], staff: None
) -> None:
    register(runtime, run_jobs)
    sign_in(client, "viewer")
    enumerator = pending_enumerator(runtime)

    response = client.post(
        f"/dashboard/enumerators/{enumerator.id}/approve",
        data={"csrf_token": csrf_token(page_of(client))},
    )

    assert response.status_code == 403
    assert pending_enumerator(runtime).status is EnumeratorStatus.PENDING
