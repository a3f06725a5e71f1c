"""The enumerators page: every enumerator by status, the work each has done, and revoking one.

An enumerator registers by SMS and is approved as a supervisor would; they then survey a
household by USSD, and the page shows that work under their code. Numbers are shown masked.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from flask.testing import FlaskClient

from gateway.core.clock import utc_now
from gateway.core.runtime import Runtime
from gateway.core.settings import Settings
from gateway.enumerators.models import Enumerator, EnumeratorStatus
from tests.enumerators.test_enumerators import (
    ENUMERATOR,
    ENUMERATOR_MASKED,
    HOUSEHOLD,
    approved_code,
    register,
    the_enumerator,
)
from tests.phone import FULL_SURVEY_RETURN, Phone
from tests.staff import assert_light_page, audit_actions, csrf_token, make_staff, sign_in, text_of


def survey_one_household(client: FlaskClient, run_jobs: Callable[..., int]) -> None:
    """The enumerator takes the survey for a household by USSD, to the end."""
    phone = Phone(client, number=ENUMERATOR)
    phone.dial()
    phone.send("1")
    phone.send(HOUSEHOLD)
    assert phone.answer_all(FULL_SURVEY_RETURN)[-1].startswith("END ")
    run_jobs()


def test_approved_enumerators_are_listed_with_their_work_and_can_be_revoked(
    client: FlaskClient, runtime: Runtime, settings: Settings, run_jobs: Callable[..., int]
) -> None:
    make_staff(runtime)
    register(runtime, run_jobs)
    code = approved_code(runtime, settings)
    run_jobs()
    survey_one_household(client, run_jobs)
    sign_in(client, "manager")

    pending = client.get("/dashboard/enumerators/")
    assert "Aucune inscription en attente." in text_of(pending)
    assert "Approuvés (1)" in text_of(pending)
    approved = client.get("/dashboard/enumerators/?status=approved")
    html = approved.get_data(as_text=True)
    assert_light_page(html)
    row = text_of(approved).split("<tbody>")[1].split("</tbody>")[0]
    assert "Awa Traore" in row and code in row and ENUMERATOR_MASKED in row
    assert "<td>Mopti</td>" in row  # the region by its name, not its code
    assert '<td class="num">1</td>' in row  # one survey taken for a household
    assert ENUMERATOR not in html and HOUSEHOLD not in html
    assert "jamais" not in row  # a last activity is shown

    revoked = client.post(
        f"/dashboard/enumerators/{the_enumerator(runtime).id}/revoke",
        data={"csrf_token": csrf_token(html), "status": "approved"},
        follow_redirects=True,
    )

    assert "Awa Traore est révoqué(e)" in text_of(revoked)
    assert "Aucun enquêteur dans cet état." in text_of(revoked)  # back on the approved tab
    assert the_enumerator(runtime).status is EnumeratorStatus.REVOKED
    assert runtime.store.enumerator_code(the_enumerator(runtime).respondent_id) is None
    assert ("user:manager", "enumerator.revoke") in audit_actions(runtime)
    listed = text_of(client.get("/dashboard/enumerators/?status=revoked"))
    # The code is kept, and so is the work done under it.
    assert code in listed and '<td class="num">1</td>' in listed
    assert "Approuver" in listed  # a revoked enumerator may be approved again


def test_a_long_list_is_paged(client: FlaskClient, runtime: Runtime) -> None:
    make_staff(runtime)
    start = utc_now() - timedelta(days=1)
    with runtime.sessions.begin() as session:
        for i in range(55):
            session.add(
                Enumerator(
                    respondent_id=f"r{i:03d}",
                    phone_encrypted=runtime.cipher.encrypt(f"+2236500{i:04d}"),
                    phone_masked=f"+22365****{i % 100:02d}",
                    full_name=f"Enqueteur {i:02d}",
                    region="mopti",
                    site="Sevare",
                    run_id=f"run-{i}",
                    created_at=start + timedelta(minutes=i),
                )
            )
    sign_in(client, "manager")

    first = text_of(client.get("/dashboard/enumerators/"))
    assert "En attente (55)" in first and "Page 1 sur 2" in first
    assert "Enqueteur 00" in first and "Enqueteur 49" in first and "Enqueteur 50" not in first
    second = text_of(client.get("/dashboard/enumerators/?status=pending&page=2"))
    assert "Enqueteur 50" in second and "Enqueteur 54" in second and "Enqueteur 49" not in second
