from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from cryptography.fernet import Fernet
from sqlalchemy import Column, Engine, Integer, MetaData, String, delete, inspect, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from gateway.core.crypto import NumberCipher, pseudonymise, reference_code
from gateway.core.db import (
    alembic_config,
    make_engine,
    make_sessionmaker,
    normalise_database_url,
    ping,
    upgrade,
)
from gateway.core.models import Base
from gateway.core.settings import Settings
from gateway.messaging.models import Message, MessageStatus
from gateway.surveys.models import Respondent, StoredAnswer, Submission, SubmissionStatus
from gateway.surveys.persistence import RunSnapshot, create_message, sync_submission

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
NUMBER = "+22376123456"
RESPONDENT = pseudonymise(NUMBER, "test-secret")
RUN_ID = "0b8f5c2e-6d1a-4c59-9e1f-5a3b7c9d2e41"
TABLES = {"respondents", "submissions", "answers", "messages"}


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def snapshot(
    answers: dict[str, tuple[str, int]],
    *,
    step: int | None = None,
    status: str = "active",
    language: str = "fr",
    run_id: str = RUN_ID,
) -> RunSnapshot:
    """A snapshot whose clock reads the run's step number as minutes after T0."""
    step = step if step is not None else max((seq for _, seq in answers.values()), default=0)
    return RunSnapshot(
        run_id=run_id,
        respondent_id=RESPONDENT,
        flow="return_intention",
        flow_version=3,
        channel="ussd",
        language=language,
        status=status,  # type: ignore[arg-type]
        started_at=T0,
        updated_at=at(step),
        expires_at=at(step + 60),
        completed_at=at(step) if status != "active" else None,
        answers={key: (value, seq, at(seq)) for key, (value, seq) in answers.items()},
    )


def rows(session: Session) -> dict[str, Any]:
    """Every row the persistence layer writes, as plain values, for comparisons."""
    session.expire_all()
    return {
        "respondents": [
            (r.id, r.language, r.created_at, r.updated_at)
            for r in session.scalars(select(Respondent).order_by(Respondent.id))
        ],
        "submissions": [
            (
                s.id,
                s.respondent_id,
                s.flow,
                s.flow_version,
                s.channel,
                s.language,
                s.status,
                s.reference,
                s.started_at,
                s.updated_at,
                s.completed_at,
                s.expires_at,
            )
            for s in session.scalars(select(Submission).order_by(Submission.id))
        ],
        "answers": [
            (a.submission_id, a.key, a.value, a.seq, a.answered_at)
            for a in session.scalars(
                select(StoredAnswer).order_by(StoredAnswer.submission_id, StoredAnswer.key)
            )
        ],
    }


def answers(session: Session) -> dict[str, tuple[str, int]]:
    return {key: (value, seq) for _, key, value, seq, _ in rows(session)["answers"]}


def apply_in_order(session: Session, snaps: list[RunSnapshot]) -> dict[str, Any]:
    """Sync the snapshots one by one, each in its own transaction; return the rows; clear."""
    for snap in snaps:
        sync_submission(session, snap)
        session.commit()
    state = rows(session)
    for table in (StoredAnswer, Submission, Respondent):
        session.execute(delete(table))
    session.commit()
    return state


# --- schema ---------------------------------------------------------------------------------


def schema_diff(engine: Engine, metadata: MetaData) -> list[Any]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def test_migrated_schema_matches_models(db_engine: Engine) -> None:
    assert schema_diff(db_engine, Base.metadata) == []
    assert TABLES <= set(inspect(db_engine).get_table_names())


@pytest.mark.parametrize("drift", ["extra column", "longer string"])
def test_schema_comparison_would_see_a_drift(db_engine: Engine, drift: str) -> None:
    drifted = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(drifted)
    if drift == "extra column":
        drifted.tables["answers"].append_column(Column("extra", Integer, nullable=True))
    else:
        drifted.tables["submissions"].c["reference"].type = String(20)
    assert schema_diff(db_engine, drifted) != []


def test_concurrent_upgrades_do_not_collide(database_url: str) -> None:
    # The web process, the worker and the CLI may all migrate as they start.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=4, mp_context=context) as pool:
        for future in [pool.submit(upgrade, database_url) for _ in range(4)]:
            future.result(timeout=120)
    engine = make_engine(database_url)
    try:
        assert schema_diff(engine, Base.metadata) == []
    finally:
        engine.dispose()


def test_the_settings_database_can_be_migrated_and_pinged(settings: Settings) -> None:
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        ping(engine)
    finally:
        engine.dispose()


def test_upgrade_is_repeatable_and_downgrade_removes_everything(database_url: str) -> None:
    upgrade(database_url)
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
        assert not TABLES & set(inspect(engine).get_table_names())
        upgrade(engine)
        assert schema_diff(engine, Base.metadata) == []
    finally:
        engine.dispose()


def test_normalise_database_url() -> None:
    assert (
        normalise_database_url("postgres://u:p%40ss@db:5432/gw")
        == "postgresql+psycopg://u:p%40ss@db:5432/gw"
    )
    assert normalise_database_url("postgresql://u@db/gw") == "postgresql+psycopg://u@db/gw"
    assert normalise_database_url("postgresql+psycopg://u@db/gw") == "postgresql+psycopg://u@db/gw"
    assert normalise_database_url("sqlite:///var/gateway.db") == "sqlite:///var/gateway.db"


def test_sqlite_engine_makes_its_folder_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "var" / "gateway.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert (connection.exec_driver_sql("PRAGMA busy_timeout").scalar() or 0) >= 1000
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert path.exists()
    finally:
        engine.dispose()


def test_ping(db_engine: Engine) -> None:
    ping(db_engine)
    dead = make_engine("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(OperationalError):
        ping(dead)


def test_datetimes_come_back_aware_utc_and_naive_ones_are_refused(db_session: Session) -> None:
    bamako_noon = datetime(2025, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=3)))
    db_session.add(Respondent(id="r1", language="fr", created_at=bamako_noon))
    db_session.commit()
    db_session.expire_all()
    stored = db_session.get(Respondent, "r1")
    assert stored is not None
    assert stored.created_at == bamako_noon
    assert stored.created_at.tzinfo is UTC and stored.created_at.hour == 9

    db_session.add(Respondent(id="r2", language="fr", created_at=datetime(2025, 3, 1)))
    with pytest.raises(Exception, match="naive datetime"):
        db_session.flush()
    db_session.rollback()


def test_deleting_a_submission_takes_its_answers_and_messages(db_session: Session) -> None:
    sync_submission(db_session, snapshot({"q1": ("1", 1)}))
    cipher = NumberCipher([Fernet.generate_key().decode()])
    create_message(
        db_session,
        submission_id=RUN_ID,
        respondent_id=RESPONDENT,
        kind="confirmation",
        to_e164=NUMBER,
        body="Merci",
        cipher=cipher,
    )
    db_session.commit()
    db_session.execute(delete(Submission).where(Submission.id == RUN_ID))
    db_session.commit()
    assert db_session.scalars(select(StoredAnswer)).all() == []
    assert db_session.scalars(select(Message)).all() == []


# --- sync_submission --------------------------------------------------------------------------


def test_sync_creates_respondent_submission_and_answers(db_session: Session) -> None:
    submission = sync_submission(db_session, snapshot({"q1": ("2", 1), "q2": ("1", 2)}))
    db_session.commit()
    assert submission.status is SubmissionStatus.STARTED
    assert submission.reference is None and submission.completed_at is None
    state = rows(db_session)
    assert state["respondents"] == [(RESPONDENT, "fr", T0, at(2))]
    assert answers(db_session) == {"q1": ("2", 1), "q2": ("1", 2)}
    assert state["answers"][0][4] == at(1)


def test_sync_twice_leaves_the_same_rows(db_session: Session) -> None:
    snap = snapshot({"q1": ("2", 1), "q2": ("1", 2)})
    sync_submission(db_session, snap)
    db_session.commit()
    once = rows(db_session)
    sync_submission(db_session, snap)
    db_session.commit()
    assert rows(db_session) == once


def test_an_older_answer_never_overwrites_a_newer_one(db_session: Session) -> None:
    newer = snapshot({"q1": ("2", 1), "q2": ("3", 4)})
    older = snapshot({"q1": ("2", 1), "q2": ("1", 2)})
    sync_submission(db_session, newer)
    db_session.commit()
    sync_submission(db_session, older)
    db_session.commit()
    assert answers(db_session) == {"q1": ("2", 1), "q2": ("3", 4)}
    submission = db_session.get(Submission, RUN_ID)
    assert submission is not None and submission.updated_at == at(4)


def test_going_back_and_rerouting_drops_the_irrelevant_answer(db_session: Session) -> None:
    # q2 = "1" led to q3; the respondent went back and answered q2 = "2", which skips q3.
    before = snapshot({"q1": ("1", 1), "q2": ("1", 2), "q3": ("5", 3)})
    after = snapshot({"q1": ("1", 1), "q2": ("2", 4)})
    sync_submission(db_session, before)
    db_session.commit()
    sync_submission(db_session, after)
    db_session.commit()
    assert answers(db_session) == {"q1": ("1", 1), "q2": ("2", 4)}


def test_a_late_snapshot_does_not_drop_newer_answers(db_session: Session) -> None:
    sync_submission(db_session, snapshot({"q1": ("1", 1), "q2": ("1", 2), "q3": ("4", 3)}))
    db_session.commit()
    sync_submission(db_session, snapshot({"q1": ("1", 1)}))
    db_session.commit()
    assert answers(db_session) == {"q1": ("1", 1), "q2": ("1", 2), "q3": ("4", 3)}


def test_snapshots_in_any_order_converge_on_the_newest(db_session: Session) -> None:
    snaps = [
        snapshot({"q1": ("1", 1)}),
        snapshot({"q1": ("1", 1), "q2": ("1", 2), "q3": ("5", 3)}),
        snapshot({"q1": ("1", 1), "q2": ("2", 4)}),  # back, rerouted: q3 no longer applies
        snapshot({"q1": ("1", 1), "q2": ("2", 4), "q4": ("7", 5)}, status="completed"),
    ]
    orders = [[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2], [2, 1, 3, 0], [3, 1, 0, 2, 3]]
    states = [apply_in_order(db_session, [snaps[i] for i in order]) for order in orders]
    for state in states[1:]:
        assert state == states[0]
    assert {a[1]: a[2] for a in states[0]["answers"]} == {"q1": "1", "q2": "2", "q4": "7"}
    assert states[0]["submissions"][0][6] is SubmissionStatus.COMPLETED


def test_completion_sets_status_reference_and_completed_at(db_session: Session) -> None:
    sync_submission(db_session, snapshot({"q1": ("1", 1)}))
    db_session.commit()
    sync_submission(db_session, snapshot({"q1": ("1", 1), "q2": ("3", 2)}, status="completed"))
    db_session.commit()
    db_session.expire_all()
    submission = db_session.get(Submission, RUN_ID)
    assert submission is not None
    assert submission.status is SubmissionStatus.COMPLETED
    assert submission.reference == reference_code(RUN_ID)
    assert submission.completed_at == at(2)
    # A late "active" snapshot does not reopen it.
    sync_submission(db_session, snapshot({"q1": ("1", 1)}))
    db_session.commit()
    db_session.expire_all()
    submission = db_session.get(Submission, RUN_ID)
    assert submission is not None and submission.status is SubmissionStatus.COMPLETED
    assert submission.reference == reference_code(RUN_ID)


def test_declining_ends_the_run_too(db_session: Session) -> None:
    submission = sync_submission(db_session, snapshot({"consent": ("2", 1)}, status="declined"))
    db_session.commit()
    assert submission.status is SubmissionStatus.DECLINED
    assert submission.reference == reference_code(RUN_ID)
    assert submission.completed_at == at(1)


def test_respondent_language_follows_the_latest_run(db_session: Session) -> None:
    late = snapshot({"q1": ("1", 5)}, language="bm", run_id="run-b")
    early = snapshot({"q1": ("1", 1)}, language="fr", run_id="run-a")
    sync_submission(db_session, late)
    sync_submission(db_session, early)
    db_session.commit()
    assert rows(db_session)["respondents"] == [(RESPONDENT, "bm", T0, at(5))]


def test_snapshot_refuses_naive_times_and_unknown_status() -> None:
    with pytest.raises(ValueError):
        RunSnapshot(
            run_id="r",
            respondent_id="p",
            flow="f",
            flow_version=1,
            channel="sms",
            language="fr",
            status="active",
            started_at=datetime(2025, 1, 1),
            updated_at=T0,
            expires_at=T0,
        )
    with pytest.raises(ValueError):
        RunSnapshot(
            run_id="r",
            respondent_id="p",
            flow="f",
            flow_version=1,
            channel="sms",
            language="fr",
            status="paused",  # type: ignore[arg-type]
            started_at=T0,
            updated_at=T0,
            expires_at=T0,
        )


def test_duplicate_insert_from_another_transaction_raises(db_engine: Engine) -> None:
    factory = make_sessionmaker(db_engine)
    with factory() as first, factory() as second:
        sync_submission(first, snapshot({"q1": ("1", 1)}))
        first.commit()
        # The second session saw nothing yet only if it looked before; simulate that race by
        # inserting the same submission directly.
        second.add(
            Submission(
                id=RUN_ID,
                respondent_id=RESPONDENT,
                flow="f",
                flow_version=1,
                channel="sms",
                language="fr",
                status=SubmissionStatus.STARTED,
                started_at=T0,
                updated_at=T0,
                expires_at=T0,
            )
        )
        with pytest.raises(IntegrityError):
            second.flush()


# --- create_message ---------------------------------------------------------------------------


@pytest.fixture
def cipher() -> NumberCipher:
    return NumberCipher([Fernet.generate_key().decode()])


MakeMessage = Callable[..., Message]


@pytest.fixture
def make_message(db_session: Session, cipher: NumberCipher) -> MakeMessage:
    sync_submission(db_session, snapshot({"q1": ("1", 1)}, status="completed"))
    db_session.commit()

    def make(**overrides: Any) -> Message:
        kwargs: dict[str, Any] = {
            "submission_id": RUN_ID,
            "respondent_id": RESPONDENT,
            "kind": "confirmation",
            "to_e164": NUMBER,
            "body": f"Merci. Reference {reference_code(RUN_ID)}",
            "cipher": cipher,
        }
        kwargs.update(overrides)
        message = create_message(db_session, **kwargs)
        db_session.commit()
        return message

    return make


def test_create_message_once_per_submission_and_kind(
    db_session: Session, make_message: MakeMessage, cipher: NumberCipher
) -> None:
    first = make_message()
    assert first.status is MessageStatus.QUEUED and first.attempts == 0
    assert first.to_masked == "+22376****56"
    assert cipher.decrypt(first.to_encrypted) == NUMBER
    again = make_message(body="a different body")
    assert again.id == first.id and again.body == first.body
    other_kind = make_message(kind="reminder")
    assert other_kind.id != first.id
    # Without a submission there is nothing to deduplicate on.
    loose = [make_message(submission_id=None, kind="notice") for _ in range(2)]
    assert loose[0].id != loose[1].id
    assert len(db_session.scalars(select(Message)).all()) == 4


def test_the_number_is_nowhere_in_clear_in_the_messages_table(
    db_session: Session, make_message: MakeMessage
) -> None:
    make_message()
    make_message(submission_id=None, kind="notice")
    national = NUMBER.removeprefix("+223")
    raw = db_session.execute(text("SELECT * FROM messages")).all()
    assert len(raw) == 2
    for row in raw:
        for value in row:
            assert national not in str(value)
            assert NUMBER not in str(value)


def test_the_unique_constraint_backs_create_message(
    db_session: Session, make_message: MakeMessage
) -> None:
    first = make_message()
    duplicate = Message(
        submission_id=first.submission_id,
        respondent_id=RESPONDENT,
        kind=first.kind,
        to_encrypted="x",
        to_masked="x",
        body="x",
    )
    db_session.add(duplicate)
    with pytest.raises(IntegrityError):
        db_session.flush()
    db_session.rollback()
