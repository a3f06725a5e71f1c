"""The results API as a script calls it: a viewer token, JSON pages, the report, downloads."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from flask.testing import FlaskClient
from openapi_spec_validator import validate
from openpyxl import load_workbook
from sqlalchemy import select

from gateway.core.clock import utc_now
from gateway.core.runtime import Runtime
from gateway.staff.models import AuditEvent, Role
from gateway.staff.tokens import create_token
from tests.households import FORTY, add, campaign

FLOW_URL = "/api/v1/flows/return_intention"


@pytest.fixture
def viewer(runtime: Runtime) -> dict[str, str]:
    """Headers of a viewer's API token."""
    with runtime.sessions.begin() as session:
        secret = create_token(session, name="analyst", role=Role.VIEWER, actor="cli").secret
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def forty(runtime: Runtime) -> list[str]:
    """The forty households of tests.households, stored; their run ids."""
    with runtime.sessions() as session:
        return add(session, FORTY)


def get(client: FlaskClient, url: str, headers: dict[str, str], **query: Any) -> Any:
    return client.get(url, headers=headers, query_string=query)


def json_error(response: Any, status: int) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    message: str = response.get_json()["message"]
    return message


def test_submissions_page_by_page(
    client: FlaskClient, viewer: dict[str, str], forty: list[str]
) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        query = {"per_page": 15, **({"cursor": cursor} if cursor else {})}
        page = get(client, f"{FLOW_URL}/submissions", viewer, **query)
        assert page.status_code == 200, page.get_data(as_text=True)
        body = page.get_json()
        assert body["total"] == 40 and body["per_page"] == 15
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == forty
    first = get(client, f"{FLOW_URL}/submissions", viewer, per_page=1).get_json()["items"][0]
    assert first["answers"]["intention"] == "return"
    assert first["status"] == "completed" and first["respondent"] != ""
    # A whole-number answer is a JSON number; a choice stays its code.
    assert isinstance(first["answers"]["household_size"], int)
    assert first["answers"]["consent"] == "yes"


def test_submissions_filtered_by_status(
    client: FlaskClient, viewer: dict[str, str], forty: list[str]
) -> None:
    done = get(client, f"{FLOW_URL}/submissions", viewer, status="completed").get_json()
    assert done["total"] == 40
    assert get(client, f"{FLOW_URL}/submissions", viewer, status="expired").get_json()["total"] == 0
    json_error(get(client, f"{FLOW_URL}/submissions", viewer, status="lost"), 422)


def test_bad_page_requests_are_json_errors(
    client: FlaskClient, viewer: dict[str, str], forty: list[str]
) -> None:
    json_error(get(client, f"{FLOW_URL}/submissions", viewer, per_page=101), 422)
    assert "cursor" in json_error(get(client, f"{FLOW_URL}/submissions", viewer, cursor="x"), 422)
    assert "2025-03-31" in json_error(
        get(client, f"{FLOW_URL}/submissions", viewer, since="yesterday"), 422
    )
    json_error(get(client, "/api/v1/flows/no_such_flow/submissions", viewer), 404)
    json_error(client.get(f"{FLOW_URL}/submissions"), 401)
    # The API keeps to ISO 8601: 03/04/2025 is April in Bamako and March in New York.
    assert "2025-03-31" in json_error(
        get(client, f"{FLOW_URL}/submissions", viewer, since="31/03/2025"), 422
    )
    assert "before" in json_error(
        get(client, f"{FLOW_URL}/report", viewer, since="2025-03-02", until="2025-03-01"), 422
    )


def test_a_campaigns_submissions(
    client: FlaskClient, runtime: Runtime, viewer: dict[str, str], forty: list[str]
) -> None:
    with runtime.sessions() as session:
        campaign(session, "camp-api", [forty[3], forty[7], None])
    page = get(client, "/api/v1/campaigns/camp-api/submissions", viewer)
    assert page.status_code == 200, page.get_data(as_text=True)
    assert [item["id"] for item in page.get_json()["items"]] == [forty[3], forty[7]]
    json_error(get(client, "/api/v1/campaigns/nope/submissions", viewer), 404)
    flow_page = get(client, f"{FLOW_URL}/submissions", viewer, campaign="camp-api").get_json()
    assert flow_page["total"] == 2


def test_the_report_as_json(client: FlaskClient, viewer: dict[str, str], forty: list[str]) -> None:
    response = get(client, f"{FLOW_URL}/report", viewer, language="en")
    assert response.status_code == 200, response.get_data(as_text=True)
    report = response.get_json()
    assert report["households"] == 40 and report["people"] == 243 and report["k"] == 5
    intention = {row["code"]: row for row in report["tables"][0]["rows"]}
    assert (intention["return"]["households"], intention["return"]["share"]) == (20, 50.0)
    assert intention["return"]["label"] == "Return to place of origin"
    assert intention["relocate"] == {
        "code": "relocate",
        "label": "Settle elsewhere",
        "households": None,
        "share": None,
        "people": None,
        "suppressed": "small",
        "display": "<5",
    }
    assert intention["undecided"]["display"] == "x"
    assert intention["undecided"]["households"] is None

    later = get(client, f"{FLOW_URL}/report", viewer, since="2025-03-02").get_json()
    assert later["households"] == 25 and later["since"] == "2025-03-02T00:00:00Z"
    json_error(get(client, f"{FLOW_URL}/report", viewer, k=2), 422)
    json_error(get(client, "/api/v1/flows/enumerator_registration/report", viewer), 404)


def test_exports_download_with_a_safe_name_and_are_audited(
    client: FlaskClient, runtime: Runtime, viewer: dict[str, str], forty: list[str]
) -> None:
    today = utc_now().date().isoformat()
    response = get(client, f"{FLOW_URL}/export.csv", viewer)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="return_intention_{today}.csv"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 41 and rows[0][0] == "submission_id"

    hxl = get(client, f"{FLOW_URL}/export.hxl", viewer, since="2025-03-02")
    assert hxl.headers["Content-Disposition"].endswith(f'_{today}.hxl.csv"')
    lines = hxl.get_data(as_text=True).splitlines()
    assert lines[1].startswith("#meta+id,") and len(lines) == 2 + 25

    xlsx = get(client, f"{FLOW_URL}/export.xlsx", viewer)
    assert xlsx.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(xlsx.get_data()), read_only=True)["return_intention"]
    assert len(list(sheet.iter_rows())) == 41

    labelled = get(client, f"{FLOW_URL}/export.csv", viewer, labels="en", status="completed")
    assert labelled.headers["Content-Disposition"].endswith(f'_{today}_labels_en.csv"')
    header, first, *_ = csv.reader(io.StringIO(labelled.get_data(as_text=True)))
    assert first[header.index("intention")] == "Return to place of origin"
    json_error(get(client, f"{FLOW_URL}/export.csv", viewer, labels="de"), 422)

    with runtime.sessions() as session:
        events = list(session.scalars(select(AuditEvent).where(AuditEvent.action == "export")))
    assert [(e.actor, e.object_type, e.object_id) for e in events] == [
        ("token:analyst", "flow", "return_intention")
    ] * 4
    assert [e.detail for e in events] == [
        "format=csv rows=40",
        "format=hxl rows=25 since=2025-03-02",
        "format=xlsx rows=40",
        "format=csv rows=40 labels=en status=completed",
    ]


def test_unknown_flows_and_formats_are_not_found(
    client: FlaskClient, viewer: dict[str, str]
) -> None:
    json_error(get(client, "/api/v1/flows/no_such_flow/export.csv", viewer), 404)
    json_error(get(client, f"{FLOW_URL}/export.exe", viewer), 404)
    traversal = get(client, "/api/v1/flows/..%2F..%2Fetc%2Fpasswd/export.csv", viewer)
    json_error(traversal, 404)
    json_error(client.get(f"{FLOW_URL}/export.csv"), 401)


def test_the_routes_are_in_the_openapi_document(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    validate(spec)
    paths = spec["paths"]
    for path in (
        "/api/v1/flows/{flow_id}/submissions",
        "/api/v1/campaigns/{campaign_id}/submissions",
        "/api/v1/flows/{flow_id}/report",
        "/api/v1/flows/{flow_id}/export.csv",
        "/api/v1/flows/{flow_id}/export.xlsx",
        "/api/v1/flows/{flow_id}/export.hxl",
    ):
        operation = paths[path]["get"]
        assert operation["security"] == [{"bearerAuth": []}], path
        assert "viewer" in operation["responses"]["403"]["description"]
