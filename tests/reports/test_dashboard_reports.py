"""The dashboard's page of enumerators' reports: staff only, figures as the CLI counts them,
filtered, in French and English."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from gateway.core.runtime import Runtime
from tests.reports.test_report_figures import (
    MONDAY,
    NEXT_MONDAY,
    TUESDAY,
    group,
    keep,
    site,
)
from tests.staff import assert_light_page, make_staff, sign_in, text_of


def words(response: TestResponse) -> str:
    """The page's visible words, one space apart."""
    return " ".join(re.sub(r"<[^>]+>", " ", text_of(response)).split())


def test_signed_out_no_figures(client: FlaskClient) -> None:
    response = client.get("/dashboard/reports/flow_monitoring")
    assert response.status_code == 302
    assert "/dashboard/login" in response.headers["Location"]


def test_flow_monitoring_figures_for_a_viewer(client: FlaskClient, runtime: Runtime) -> None:
    make_staff(runtime)
    keep(runtime, "flow_monitoring", MONDAY, group("gao", "in", 12, "mopti", "gao", 4))
    keep(runtime, "flow_monitoring", MONDAY, group("gao", "out", 5, "gao", "kidal", 1))
    keep(runtime, "flow_monitoring", TUESDAY, group("mopti", "in", 7, "segou", "mopti", 0))
    sign_in(client, "viewer")

    response = client.get("/dashboard/reports/flow_monitoring")

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert_light_page(html)
    text = words(response)
    assert "Rapports retenus : 3" in text
    assert "Gao 2026-03-02 12 5 +7" in text
    assert "Mopti → Gao 12" in text
    assert "Conflit ou insécurité 19" in text

    at_mopti = client.get("/dashboard/reports/flow_monitoring?region=mopti&since=03/03/2026")
    assert "Rapports retenus : 1" in words(at_mopti)
    bad = client.get("/dashboard/reports/flow_monitoring?since=31/02/2026")
    assert bad.status_code == 200
    assert 'aria-invalid="true"' in bad.get_data(as_text=True)
    assert client.get("/dashboard/reports/return_intention").status_code == 404


def test_site_figures_in_english(client: FlaskClient, runtime: Runtime) -> None:
    make_staff(runtime)
    keep(
        runtime, "location_assessment", MONDAY, site("gao", "Sossokoira", "camp", 40, 150, 0, "yes")
    )
    keep(
        runtime,
        "location_assessment",
        NEXT_MONDAY,
        site("gao", "Sossokoira", "camp", 50, 210, 5, "partial"),
    )
    keep(
        runtime,
        "location_assessment",
        TUESDAY,
        site("mopti", "Sevare", "return_area", 0, 0, 300, "no"),
    )
    sign_in(client, "viewer")
    client.get("/dashboard/language/en?next=/dashboard/reports/location_assessment")

    response = client.get("/dashboard/reports/location_assessment")

    text = words(response)
    assert (
        "Sites: 2 (the latest report of each). Displaced households: 50; displaced people: 210;"
        " returnees: 305." in text
    )
    assert "Gao Site or camp 1 50 210" in text
    assert "Mopti Sevare No" in text
    assert "Gao Sossokoira Partial" in text
