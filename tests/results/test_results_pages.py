"""The results, submissions and bulletin pages as staff read them, in French and in English."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from html import unescape

from flask.testing import FlaskClient
from sqlalchemy import select

from gateway.core.runtime import Runtime
from gateway.staff.models import AuditEvent
from gateway.surveys.models import Submission
from gateway.surveys.persistence import sync_submission
from tests.households import FORTY, add, answers, campaign, snapshot
from tests.staff import assert_light_page, make_staff, sign_in, text_of

RESULTS = "/dashboard/results/"
SUBMISSIONS = "/dashboard/submissions/"


def signed_in(client: FlaskClient, runtime: Runtime, households: list[dict[str, str]]) -> list[str]:
    make_staff(runtime)
    with runtime.sessions() as session:
        ids = add(session, households)
    sign_in(client, "viewer")
    return ids


def field_error(page: str, name: str) -> str:
    """The error shown next to a field of the filter ('' when none)."""
    found = re.search(rf'<span class="field-error" id="{name}-error">([^<]*)</span>', page)
    return unescape(found.group(1)) if found else ""


def test_french_dates_are_read_and_bad_ones_explained_in_the_pages_language(
    client: FlaskClient, runtime: Runtime
) -> None:
    signed_in(client, runtime, FORTY)
    french = client.get(RESULTS, query_string={"since": "02/03/2025", "until": "2025-03-31"})
    assert french.status_code == 200
    assert re.search(r'id="households">25<', text_of(french))  # 25 started on 2 March or later

    bad = client.get(RESULTS, query_string={"since": "31/02/2025", "until": "demain"})
    page = text_of(bad)
    assert bad.status_code == 400
    # Both problems at once, each next to its field, in French; what was typed is kept.
    assert field_error(page, "since") == (
        "« 31/02/2025 » n'est pas une date. Écrivez-la comme 31/03/2026."
    )
    assert (
        field_error(page, "until") == "« demain » n'est pas une date. Écrivez-la comme 31/03/2026."
    )
    assert 'value="31/02/2025"' in page and 'aria-invalid="true"' in page
    assert "is not a date" not in page

    backwards = text_of(
        client.get(RESULTS, query_string={"since": "31/03/2025", "until": "01/03/2025"})
    )
    assert field_error(backwards, "until") == "La date de fin doit venir après la date de début."

    client.get("/dashboard/language/en")
    english = text_of(client.get(RESULTS, query_string={"since": "31/02/2025"}))
    assert field_error(english, "since") == "'31/02/2025' is not a date. Write it like 31/03/2026."


def test_the_results_page_names_the_survey_and_its_answers_in_the_readers_language(
    client: FlaskClient, runtime: Runtime
) -> None:
    signed_in(client, runtime, FORTY)
    page = text_of(client.get(RESULTS))
    assert_light_page(page)
    assert ">Intentions de retour et besoins</option>" in page
    assert ">return_intention</option>" not in page
    assert '<td title="tombouctou">Tombouctou</td>' in page
    # Shares in the table and in the chart's description, as a French reader writes them.
    assert "27,5\xa0%" in page and "Retourner au lieu d'origine: 50,0\xa0%" in page
    assert "50.0%" not in page

    client.get("/dashboard/language/en")
    english = text_of(client.get(RESULTS))
    assert ">Return intentions and needs</option>" in english
    assert '<td title="tombouctou">Timbuktu</td>' in english
    assert "Return to place of origin: 50.0%" in english


def test_a_campaign_list_names_the_survey(client: FlaskClient, runtime: Runtime) -> None:
    ids = signed_in(client, runtime, FORTY[:3])
    with runtime.sessions() as session:
        campaign(session, "camp-names", ids)
    listing = text_of(client.get("/dashboard/campaigns/"))
    assert re.search(r"<td[^>]*>Intentions de retour et besoins</td>", listing)
    detail = text_of(client.get("/dashboard/campaigns/camp-names"))
    assert "Intentions de retour et besoins" in detail


def test_labelled_downloads_from_the_results_page_in_the_readers_language(
    client: FlaskClient, runtime: Runtime
) -> None:
    signed_in(client, runtime, FORTY)
    client.get("/dashboard/language/en")
    page = text_of(client.get(RESULTS, query_string={"since": "02/03/2025"}))
    link = re.search(r'id="labelled-csv" href="([^"]+)"', page)
    assert link is not None
    response = client.get(unescape(link.group(1)))
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].endswith("_labels_en.csv")
    header, first, *rest = csv.reader(io.StringIO(response.get_data(as_text=True)))
    assert len(rest) == 24  # the filter went along: 25 rows
    assert first[header.index("intention")] in ("Return to place of origin", "Stay here")
    with runtime.sessions() as session:
        details = [
            e.detail
            for e in session.scalars(select(AuditEvent).where(AuditEvent.action == "export"))
        ]
    assert details == ["format=csv rows=25 labels=en since=02/03/2025"]


def submissions_rows(page: str) -> list[str]:
    table = page.split('<table id="submissions">', 1)[1]
    body = table.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr>\n(.*?)</tr>", body, re.S)


def test_the_submissions_page_shows_labels_keeps_codes_at_hand_and_hides_numbers(
    client: FlaskClient, runtime: Runtime
) -> None:
    household = answers("tombouctou", "menaka", 6, "return", "food", "none")
    signed_in(client, runtime, [household])
    page = text_of(client.get(SUBMISSIONS))
    assert_light_page(page)
    assert '<h2 id="flow-name">Intentions de retour et besoins</h2>' in page
    assert "1 réponse correspond au filtre." in page
    [row] = submissions_rows(page)
    assert '<td title="tombouctou">Tombouctou</td>' in row
    assert '<td title="none">Aucun</td>' in row
    assert '<td class="num">6</td>' in row
    assert "terminé" in row
    assert "+223" not in page and "76" + "0" not in row  # pseudonyms only
    with runtime.sessions() as session:
        pseudonym = session.scalars(select(Submission.respondent_id)).one()
    assert f'title="{pseudonym}"' in row

    codes = text_of(client.get(SUBMISSIONS, query_string={"codes": "1"}))
    [coded] = submissions_rows(codes)
    assert '<td class="code" title="Tombouctou">tombouctou</td>' in coded


def test_the_submissions_page_filters_by_status_and_pages(
    client: FlaskClient, runtime: Runtime
) -> None:
    ids = signed_in(client, runtime, FORTY[:30])
    with runtime.sessions() as session:
        sync_submission(
            session,
            snapshot("no-0001", {"consent": "no"}, status="declined", start=timedelta(days=1)),
        )
        session.commit()
    everything = text_of(client.get(SUBMISSIONS))
    assert "31 réponses correspondent au filtre." in everything
    assert len(submissions_rows(everything)) == 25
    following = re.search(r'id="next-page" href="([^"]+)"', everything)
    assert following is not None
    second = text_of(client.get(unescape(following.group(1))))
    assert len(submissions_rows(second)) == 6 and 'id="next-page"' not in second
    assert 'id="first-page"' in second

    declined = text_of(client.get(SUBMISSIONS, query_string={"status": "declined"}))
    assert "1 réponse correspond au filtre." in declined
    [row] = submissions_rows(declined)
    assert "refusé" in row and ids[0] not in row
    # The downloads carry the page's filters.
    link = re.search(r'id="download-csv-codes" href="([^"]+)"', declined)
    assert link is not None
    rows = list(csv.reader(io.StringIO(client.get(unescape(link.group(1))).get_data(as_text=True))))
    assert [row[rows[0].index("status")] for row in rows[1:]] == ["declined"]

    bad = client.get(SUBMISSIONS, query_string={"status": "lost", "cursor": "x"})
    assert (
        bad.status_code == 400 and field_error(text_of(bad), "status") == "Cet état n'existe pas."
    )
    stale = client.get(SUBMISSIONS, query_string={"cursor": "not-ours"})
    assert stale.status_code == 400 and "Cette page n'existe plus." in text_of(stale)


def test_the_bulletin_is_one_printable_self_contained_page(
    client: FlaskClient, runtime: Runtime
) -> None:
    signed_in(client, runtime, FORTY)
    response = client.get(
        "/dashboard/results/bulletin", query_string={"since": "01/03/2025", "until": "31/03/2025"}
    )
    assert response.status_code == 200
    page = text_of(response)
    assert_light_page(page)
    assert '<h1 id="flow-name">Intentions de retour et besoins</h1>' in page
    assert "Du 01/03/2025 au 31/03/2025" in page
    assert re.search(r'id="households">40<', page)
    assert "@page" in page and "@media print" in page  # its print style is inside
    assert page.count("<svg") == 4 and "Retourner au lieu d'origine: 50,0\xa0%" in page
    assert "<link" not in page and "<script" not in page
    policy = response.headers["Content-Security-Policy"]
    assert "style-src 'sha256-" in policy and "script-src" not in policy
    assert "Content-Disposition" not in response.headers

    saved = client.get("/dashboard/results/bulletin", query_string={"download": "1"})
    assert saved.headers["Content-Disposition"].startswith(
        'attachment; filename="return_intention_'
    )
    assert saved.headers["Content-Disposition"].endswith('_bulletin.html"')
    assert client.get("/dashboard/results/bulletin", query_string={"since": "x"}).status_code == 400
