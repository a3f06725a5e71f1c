from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.orm import Session

import gateway.export
from gateway.crypto import NumberCipher, pseudonymise
from gateway.export import OutboxRow, export_csv, outbox_rows
from gateway.models import MessageStatus
from gateway.persistence import RunSnapshot, create_message, sync_submission

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=1)
AMINATA = "+22376123456"
MOUSSA = "+22366987654"
KEYS = ["consent", "return_when", "return_where"]


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def pseudonym(number: str) -> str:
    return pseudonymise(number, "test-secret")


def run(
    run_id: str,
    number: str,
    start: float,
    answers: dict[str, str],
    *,
    status: str = "active",
    flow: str = "return_intention",
    expires_in: float = 60 * 48,
    channel: str = "ussd",
) -> RunSnapshot:
    """A run started ``start`` minutes after T0, answered one step a minute."""
    steps = {
        key: (value, i + 1, at(start + i + 1)) for i, (key, value) in enumerate(answers.items())
    }
    end = at(start + len(answers))
    return RunSnapshot(
        run_id=run_id,
        respondent_id=pseudonym(number),
        flow=flow,
        flow_version=2,
        channel=channel,
        language="fr",
        status=status,  # type: ignore[arg-type]
        started_at=at(start),
        updated_at=end,
        expires_at=at(start + expires_in),
        completed_at=end if status != "active" else None,
        answers=steps,
    )


def export(session: Session, keys: list[str] = KEYS, flow: str = "return_intention") -> list[str]:
    out = io.StringIO(newline="")
    count = export_csv(session, flow, keys, out, NOW)
    text = out.getvalue()
    lines = text.splitlines()
    assert count == len(lines) - 1
    return lines


def test_export_header_rows_and_codes(db_session: Session) -> None:
    # Saved out of order: the export orders by start time.
    sync_submission(
        db_session,
        run("run-2", MOUSSA, 30, {"consent": "1", "return_when": "3"}, channel="sms"),
    )
    sync_submission(
        db_session,
        run(
            "run-1",
            AMINATA,
            0,
            {"consent": "1", "return_when": "2", "return_where": "4"},
            status="completed",
        ),
    )
    sync_submission(db_session, run("run-3", AMINATA, 60, {"consent": "2"}, status="declined"))
    sync_submission(db_session, run("other", MOUSSA, 10, {"consent": "1"}, flow="other_flow"))
    db_session.commit()

    lines = export(db_session)
    assert lines == [
        "submission_id,respondent,flow,flow_version,channel,enumerator,language,status,started_at,"
        "completed_at,consent,return_when,return_where",
        f"run-1,{pseudonym(AMINATA)},return_intention,2,ussd,,fr,completed,"
        "2025-03-01T09:00:00Z,2025-03-01T09:03:00Z,1,2,4",
        f"run-2,{pseudonym(MOUSSA)},return_intention,2,sms,,fr,started,2025-03-01T09:30:00Z,,1,3,",
        f"run-3,{pseudonym(AMINATA)},return_intention,2,ussd,,fr,declined,"
        "2025-03-01T10:00:00Z,2025-03-01T10:01:00Z,2,,",
    ]
    text = "\n".join(lines)
    for number in (AMINATA, MOUSSA):
        assert number[4:] not in text  # not even the national digits


def test_export_shows_expired_for_abandoned_runs(db_session: Session) -> None:
    sync_submission(db_session, run("stale", AMINATA, 0, {"consent": "1"}, expires_in=5))
    sync_submission(db_session, run("live", MOUSSA, 1, {"consent": "1"}))
    sync_submission(
        db_session, run("done", MOUSSA, 2, {"consent": "1"}, status="completed", expires_in=5)
    )
    db_session.commit()
    statuses = [line.split(",")[7] for line in export(db_session)[1:]]
    assert statuses == ["expired", "started", "completed"]


def test_export_orders_columns_as_asked_and_ignores_other_answers(db_session: Session) -> None:
    sync_submission(
        db_session,
        run("run-1", AMINATA, 0, {"consent": "1", "return_when": "2", "return_where": "4"}),
    )
    db_session.commit()
    lines = export(db_session, keys=["return_where", "consent"])
    assert lines[0].endswith("completed_at,return_where,consent")
    assert lines[1].endswith(",4,1")
    assert export(db_session, keys=[])[1].endswith("2025-03-01T09:00:00Z,")


def test_export_of_an_empty_flow_is_just_the_header(db_session: Session) -> None:
    lines = export(db_session, flow="nobody_answered")
    assert len(lines) == 1


def test_export_streams_across_batches(
    db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gateway.export, "EXPORT_BATCH", 4)
    for i in range(11):
        sync_submission(
            db_session,
            run(f"run-{i:02d}", AMINATA, i, {"consent": "1", "return_when": str(i % 3)}),
        )
    db_session.commit()
    lines = export(db_session)
    assert [line.split(",")[0] for line in lines[1:]] == [f"run-{i:02d}" for i in range(11)]
    assert [line.split(",")[-2] for line in lines[1:]] == [str(i % 3) for i in range(11)]


def test_export_defuses_spreadsheet_formulas(db_session: Session) -> None:
    sync_submission(
        db_session,
        run("run-1", AMINATA, 0, {"consent": "=HYPERLINK(1)", "return_when": "-2"}),
    )
    db_session.commit()
    out = io.StringIO(newline="")
    export_csv(db_session, "return_intention", KEYS, out, NOW)
    out.seek(0)
    row = list(csv.reader(out))[1]
    assert row[-3:] == ["'=HYPERLINK(1)", "-2", ""]


def test_export_refuses_clashing_or_repeated_keys(db_session: Session) -> None:
    with pytest.raises(ValueError):
        export_csv(db_session, "f", ["status"], io.StringIO(), NOW)
    with pytest.raises(ValueError):
        export_csv(db_session, "f", ["a", "a"], io.StringIO(), NOW)


def test_outbox_rows_newest_first_masked(db_session: Session) -> None:
    cipher = NumberCipher([Fernet.generate_key().decode()])
    sync_submission(db_session, run("run-1", AMINATA, 0, {"consent": "1"}, status="completed"))
    db_session.commit()
    for i, (number, kind) in enumerate([(AMINATA, "confirmation"), (MOUSSA, "notice")]):
        message = create_message(
            db_session,
            submission_id="run-1" if kind == "confirmation" else None,
            respondent_id=pseudonym(number),
            kind=kind,
            to_e164=number,
            body=f"body {i}",
            cipher=cipher,
        )
        message.created_at = at(i)
    db_session.commit()

    everything = outbox_rows(db_session, None, 10)
    assert [row.kind for row in everything] == ["notice", "confirmation"]
    assert everything[1] == OutboxRow(
        created_at=at(0),
        to_masked="+22376****56",
        kind="confirmation",
        status=MessageStatus.QUEUED,
        body="body 0",
        provider_id=None,
        error=None,
    )
    assert [row.body for row in outbox_rows(db_session, pseudonym(MOUSSA), 10)] == ["body 1"]
    assert len(outbox_rows(db_session, None, 1)) == 1
    assert outbox_rows(db_session, "nobody", 10) == []
