"""``survey-gateway export`` offers what the dashboard's and the API's exports offer: answers
as labels in a language of the survey, and one status of submission."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.staff.models import AuditEvent
from gateway.surveys.persistence import sync_submission
from tests.households import add, answers
from tests.results.test_export import FLOW, MOUSSA, run, survey_gateway


def test_export_command_writes_labels_and_keeps_one_status(
    db_session: Session, database_url: str, tmp_path: Path
) -> None:
    (completed,) = add(db_session, [answers("tombouctou", "menaka", 6, "return", "food", "none")])
    sync_submission(db_session, run("said-no", MOUSSA, 0, {"consent": "2"}, status="declined"))
    db_session.commit()

    english = survey_gateway(database_url, tmp_path, "export", "--flow", FLOW.id, "--labels", "en")
    assert english.exit_code == 0, english.output
    rows = {row["submission_id"]: row for row in csv.DictReader(io.StringIO(english.stdout))}
    assert rows[completed]["current_region"] == "Timbuktu"
    assert rows[completed]["intention"] == "Return to place of origin"
    assert rows[completed]["current_region_pcode"] == "ML06"  # a code whatever the language

    declined = survey_gateway(
        database_url, tmp_path, "export", "--flow", FLOW.id, "--status", "declined"
    )
    assert declined.exit_code == 0, declined.output
    assert [line.split(",")[0] for line in declined.stdout.splitlines()[1:]] == ["said-no"]
    with_labels = db_session.scalars(
        select(AuditEvent.detail).where(AuditEvent.action == "export").order_by(AuditEvent.id)
    ).all()
    assert with_labels[-2:] == [
        "format=csv rows=2 labels=en",
        "format=csv rows=1 status=declined",
    ]

    unknown = survey_gateway(database_url, tmp_path, "export", "--flow", FLOW.id, "--labels", "de")
    assert unknown.exit_code == 2 and "the flow has no language 'de'" in unknown.output
    bad = survey_gateway(database_url, tmp_path, "export", "--flow", FLOW.id, "--status", "done")
    assert bad.exit_code == 2 and "'done' is not one of" in bad.output
