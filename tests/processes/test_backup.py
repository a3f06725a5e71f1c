"""``survey-gateway backup`` and ``restore``, as an operator runs them: a gateway's database
lost after a backup comes back with every answer and every opt-out (SQLite and PostgreSQL)."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.engine import Engine, make_url

from gateway.core.db import make_engine, make_sessionmaker, upgrade
from gateway.surveys.models import OptOut, StoredAnswer, Submission
from tests.households import FORTY, add
from tests.processes.test_cli import cli_env, gateway

OPTED_OUT = [f"respondent-{i}" for i in range(7)]


def _content(engine: Engine) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    """Every stored answer (by respondent) and every opt-out, in a stable order."""
    with engine.connect() as connection:
        answers = connection.execute(
            select(Submission.respondent_id, StoredAnswer.key, StoredAnswer.value)
            .join(StoredAnswer, StoredAnswer.submission_id == Submission.id)
            .order_by(Submission.respondent_id, StoredAnswer.key)
        )
        opt_outs = connection.execute(
            select(OptOut.respondent_id, OptOut.opted_out_at).order_by(OptOut.respondent_id)
        )
        return [tuple(map(str, row)) for row in answers], [tuple(map(str, r)) for r in opt_outs]


def _lose_everything(engine: Engine, database_url: str) -> None:
    """The database is gone: the SQLite file deleted, or every table of the schema dropped."""
    if engine.dialect.name == "sqlite":
        engine.dispose()
        Path(make_url(database_url).database or "").unlink()
        return
    with engine.begin() as connection:
        for table in connection.scalars(
            text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        ):
            connection.execute(text(f'DROP TABLE "{table}" CASCADE'))


def test_a_lost_database_comes_back_from_its_backup_with_every_answer_and_opt_out(
    tmp_path: Path, database_url: str
) -> None:
    upgrade(database_url)
    engine = make_engine(database_url)
    with make_sessionmaker(engine)() as session:
        add(session, FORTY)
        for respondent in OPTED_OUT:
            session.add(OptOut(respondent_id=respondent, opted_out_at=datetime.now(UTC)))
        session.commit()
    before = _content(engine)
    env = cli_env(tmp_path / "var")
    env["DATABASE_URL"] = database_url
    backups = tmp_path / "backups"
    backups.mkdir()

    made = gateway(env, "backup", str(backups))

    assert made.returncode == 0, made.stderr
    [written] = backups.iterdir()
    assert made.stdout.startswith(f"Backed up to {written} (")
    assert written.name.endswith(".sqlite3" if "sqlite" in database_url else ".dump")
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert database_url not in made.stdout + made.stderr

    _lose_everything(engine, database_url)
    restored = gateway(env, "restore", "--yes", str(written))

    assert restored.returncode == 0, restored.stderr
    assert restored.stdout.strip() == f"Restored from {written}."
    answers, opt_outs = _content(engine)
    assert len(answers) == sum(len(given) for given in FORTY)
    assert [row[0] for row in opt_outs] == OPTED_OUT
    assert (answers, opt_outs) == before
    current = gateway(env, "db", "current", "--check")
    assert current.returncode == 0, current.stdout + current.stderr
    engine.dispose()


def test_restore_asks_first_and_refuses_a_file_that_is_no_backup(
    tmp_path: Path, database_url: str
) -> None:
    upgrade(database_url)
    env = cli_env(tmp_path / "var")
    env["DATABASE_URL"] = database_url
    not_a_backup = tmp_path / "answers.csv"
    not_a_backup.write_text("respondent,answer\n")

    declined = gateway(env, "restore", str(not_a_backup), stdin="n\n")
    refused = gateway(env, "restore", "--yes", str(not_a_backup))

    assert declined.returncode == 1
    assert "replaces everything in the database" in declined.stdout
    assert refused.returncode == 1
    kind = "SQLite backup" if "sqlite" in database_url else "pg_dump archive"
    assert f"{not_a_backup} is not a {kind}" in refused.stderr
    assert "Traceback" not in refused.stderr
