"""The dashboard's Surveys page: flows and their versions, an XLSForm upload with its report
(or every problem with its row), and each flow downloaded as an XLSForm."""

from __future__ import annotations

import io

from flask.testing import FlaskClient

from gateway.core.runtime import Runtime
from gateway.surveys.xlsform_import import read_xlsform
from tests.staff import assert_light_page, audit_actions, csrf_token, make_staff, sign_in, text_of
from tests.xlsforms import SITE_SURVEY, site_form


def upload(client: FlaskClient, content: bytes, filename: str = "sites.xlsx") -> object:
    page = client.get("/dashboard/surveys/").get_data(as_text=True)
    return client.post(
        "/dashboard/surveys/",
        data={"csrf_token": csrf_token(page), "form": (io.BytesIO(content), filename)},
        content_type="multipart/form-data",
    )


def test_a_manager_sees_the_flows_and_their_versions(client: FlaskClient, runtime: Runtime) -> None:
    make_staff(runtime)
    sign_in(client, "manager")

    response = client.get("/dashboard/surveys/")

    assert response.status_code == 200
    text = text_of(response)
    assert "<b>Intentions de retour et besoins</b> (return_intention, code USSD)" in text
    assert "Version en service : 1" in text
    assert_light_page(response.get_data(as_text=True))


def test_a_viewer_may_not_publish(client: FlaskClient, runtime: Runtime) -> None:
    make_staff(runtime)
    sign_in(client, "viewer")

    assert client.get("/dashboard/surveys/").status_code == 403


def test_an_upload_imports_the_form_as_a_draft_and_reports_what_it_did(
    client: FlaskClient, runtime: Runtime
) -> None:
    make_staff(runtime)
    sign_in(client, "manager")

    response = upload(client, site_form())

    assert response.status_code == 200  # type: ignore[attr-defined]
    text = text_of(response)  # type: ignore[arg-type]
    assert "site_assessment version 2026030101 importée comme brouillon : 7 questions." in text
    assert (
        "Essayez le brouillon dans le simulateur (rien n'est enregistré), puis publiez-le" in text
    )
    assert "survey row 2: 'start' is recorded by ODK apps only; left out" in text
    assert (runtime.settings.flows_folder / "drafts" / "site_assessment.yaml").exists()
    assert not (runtime.settings.flows_folder / "site_assessment.yaml").exists()
    assert ("user:manager", "flow.import") in audit_actions(runtime)
    listed = text_of(client.get("/dashboard/surveys/"))
    assert "<b>Évaluation des sites</b> (site_assessment)" in listed
    assert "Version en service : pas encore publiée" in listed


def test_a_refused_form_lists_every_problem_with_its_row_and_writes_nothing(
    client: FlaskClient, runtime: Runtime
) -> None:
    make_staff(runtime)
    sign_in(client, "manager")
    geopoint = ["geopoint", "gps", "Où?", "Where?", *[""] * (len(SITE_SURVEY[0]) - 4)]
    calculate = ["calculate", "total", *[""] * (len(SITE_SURVEY[0]) - 2)]

    response = upload(client, site_form(survey=[*SITE_SURVEY, geopoint, calculate]))

    assert response.status_code == 422  # type: ignore[attr-defined]
    text = text_of(response)  # type: ignore[arg-type]
    assert "Ce formulaire ne peut pas être importé ; rien n'a été écrit :" in text
    assert "feuille survey, ligne 11, colonne type : 'geopoint' cannot run over SMS/USSD" in text
    assert "feuille survey, ligne 12, colonne type : 'calculate' cannot run" in text
    assert not (runtime.settings.flows_folder / "site_assessment.yaml").exists()
    assert upload(client, b"", filename="").status_code == 422  # type: ignore[attr-defined]


def test_a_flow_downloads_as_an_xlsform_that_imports_as_the_same_flow(
    client: FlaskClient, runtime: Runtime
) -> None:
    make_staff(runtime)
    sign_in(client, "manager")

    response = client.get("/dashboard/surveys/return_intention.xlsx")

    assert response.status_code == 200
    assert read_xlsform(response.get_data()).flow == runtime.flows["return_intention"]
    assert client.get("/dashboard/surveys/nothing.xlsx").status_code == 404
