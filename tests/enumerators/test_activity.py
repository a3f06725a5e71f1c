"""Enumerator activity for supervisors: reports sent per day by report flow and households
surveyed per day, from the dashboard and from ``survey-gateway enumerators activity``.

The work is done over the real webhooks and stored by the real workers: an enumerator surveys
a household by USSD, sends flow-monitoring reports by SMS (withdrawing one with ANNULER) and a
site assessment by SMS.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import select

from gateway.core.clock import utc_now
from gateway.core.runtime import Runtime
from gateway.core.settings import Settings
from gateway.reports.models import Report
from tests.enumerators.test_dashboard_enumerators import survey_one_household
from tests.enumerators.test_enumerators import ENUMERATOR, HOUSEHOLD, supervisor
from tests.phone import Phone
from tests.reports.test_report_capture import FLOW_COUNT, SITE, an_enumerator_texting
from tests.staff import assert_light_page, make_staff, sign_in, text_of


def ussd_report(client: FlaskClient) -> str:
    """A flow-monitoring report sent from the enumerator menu; its reference."""
    ussd = Phone(client, number=ENUMERATOR)
    ussd.dial()
    ussd.send("3")
    last = ussd.answer_all(FLOW_COUNT)[-1]
    return last.removeprefix("END Merci. Rapport enregistre, ref ").removesuffix(".")


def a_week_of_work(
    client: FlaskClient, runtime: Runtime, settings: Settings, run_jobs: Callable[..., int]
) -> str:
    """Today: one household surveyed, one flow-monitoring report kept and one withdrawn, and a
    site assessment; yesterday: one flow-monitoring report. Returns the enumerator's code."""
    code, phone = an_enumerator_texting(client, runtime, settings, run_jobs)
    yesterdays, _, mistaken = (ussd_report(client) for _ in range(3))
    run_jobs()
    assert phone.send(f"ANNULER {mistaken}") == [f"Rapport {mistaken} annule."]
    phone.send("SITE")
    for answer in SITE:
        replies = phone.send(answer)
    assert replies[-1].startswith("Merci.")
    survey_one_household(client, run_jobs)
    with runtime.sessions.begin() as session:
        report = session.scalars(select(Report).where(Report.reference == yesterdays)).one()
        report.received_at -= timedelta(days=1)
    return code


def test_the_cli_shows_reports_by_flow_and_households_per_day(
    client: FlaskClient, runtime: Runtime, settings: Settings, run_jobs: Callable[..., int]
) -> None:
    code = a_week_of_work(client, runtime, settings, run_jobs)
    today = utc_now().date()
    yesterday = today - timedelta(days=1)

    result = supervisor(runtime, settings, "activity")

    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.output.splitlines()]
    week_ago = today - timedelta(days=6)
    assert result.output.splitlines()[0] == (
        f"Enumerator activity, {week_ago.isoformat()} to {today.isoformat()} (UTC days)."
    )
    assert lines[1] == ["CODE", "DAY", "FLOW_MONITORING", "LOCATION_ASSESSMENT", "HOUSEHOLDS"]
    # The withdrawn report is not counted: two kept today, one yesterday.
    assert lines[2:] == [
        [code, yesterday.isoformat(), "1", "0", "0"],
        [code, today.isoformat(), "1", "1", "1"],
        [code, "total", "2", "1", "1"],
    ]
    # A period that ends before today's work: yesterday only.
    only_yesterday = supervisor(
        runtime,
        settings,
        "activity",
        "--since",
        yesterday.isoformat(),
        "--until",
        yesterday.isoformat(),
    )
    assert only_yesterday.output.splitlines()[-1].split() == [code, "total", "1", "0"]
    far_back = supervisor(runtime, settings, "activity", "--until", "2020-01-31")
    assert far_back.output.splitlines() == [
        "Enumerator activity, 2020-01-25 to 2020-01-31 (UTC days).",
        "No reports and no households surveyed in this period.",
    ]


def test_the_dashboard_shows_each_enumerators_days_to_a_manager(
    client: FlaskClient, runtime: Runtime, settings: Settings, run_jobs: Callable[..., int]
) -> None:
    code = a_week_of_work(client, runtime, settings, run_jobs)
    make_staff(runtime)
    sign_in(client, "manager")

    listing = text_of(client.get("/dashboard/enumerators/?status=approved"))
    assert 'href="/dashboard/enumerators/activity"' in listing
    page = client.get("/dashboard/enumerators/activity")

    html = page.get_data(as_text=True)
    assert_light_page(html)
    assert ENUMERATOR not in html and HOUSEHOLD not in html
    shown = text_of(page)
    assert "Activité des enquêteurs" in shown
    assert f"{code} · Awa Traore · Mopti" in shown
    table = shown.split(f'id="activity-{code}"')[1].split("</table>")[0]
    header = table.split("<thead>")[1].split("</thead>")[0]
    assert "Suivi des flux" in header and "Ménages enquêtés" in header
    body = table.split("<tbody>")[1].split("</tbody>")[0]
    rows = [row.split("</tr>")[0] for row in body.split("<tr>")[1:]]
    assert len(rows) == 2  # yesterday and today
    assert rows[1].count('<td class="num">1</td>') == 3  # one of each flow, one household
    total = table.split("<tfoot>")[1]
    assert '<th class="num">2</th><th class="num">1</th><th class="num">1</th>' in total

    # In English, and for a period without work.
    client.get("/dashboard/language/en")
    quiet = text_of(client.get("/dashboard/enumerators/activity?since=01/01/2020&until=31/01/2020"))
    assert "Enumerator activity" in quiet
    assert "No reports and no households surveyed in this period." in quiet


def test_a_date_that_is_not_one_is_said_on_the_page(client: FlaskClient, runtime: Runtime) -> None:
    make_staff(runtime)
    sign_in(client, "manager")

    page = client.get("/dashboard/enumerators/activity?since=yesterday")

    assert page.status_code == 200
    for far in ("01/01/0001", "31/12/9999"):
        edge = client.get(f"/dashboard/enumerators/activity?since={far}&until={far}")
        assert edge.status_code == 200
        assert "Aucun rapport ni ménage enquêté sur cette période." in text_of(edge)
    assert "« yesterday » n'est pas une date." in text_of(page)
    viewer = client.application.test_client()
    sign_in(viewer, "viewer")
    assert viewer.get("/dashboard/enumerators/activity").status_code in (302, 403)
