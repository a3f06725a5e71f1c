"""``survey-gateway db``: what an operator and a developer see, on a real database."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result
from sqlalchemy import inspect

from gateway.cli.main import cli
from gateway.core.db import VERSIONS_DIR, head_revisions, make_engine

HEAD = "0009"  # the latest shipped migration: update with each new one


def survey_gateway(database_url: str, tmp_path: Path, *args: str) -> Result:
    env = {"GATEWAY_VAR_DIR": str(tmp_path / "cli-var"), "DATABASE_URL": database_url}
    return CliRunner().invoke(cli, ["db", *args], env=env)


def autogenerate(database_url: str, tmp_path: Path, message: str) -> Result:
    """``db revision --autogenerate`` into a folder of the test's own."""
    args = ["revision", "--autogenerate", "-m", message, "--versions-dir", str(tmp_path / "v")]
    return survey_gateway(database_url, tmp_path, *args)


def test_upgrade_an_empty_database_then_current_says_head(
    database_url: str, tmp_path: Path
) -> None:
    empty = survey_gateway(database_url, tmp_path, "current", "--check")
    assert empty.exit_code == 1
    assert empty.output.startswith(
        "no revision (an empty database: run `survey-gateway db upgrade`)"
    )

    partial = survey_gateway(database_url, tmp_path, "upgrade", "0003")
    assert partial.exit_code == 0
    assert partial.output == f"Database at 0003 (behind head {HEAD}).\n"

    upgraded = survey_gateway(database_url, tmp_path, "upgrade")
    assert upgraded.exit_code == 0
    assert upgraded.output == f"Database at {HEAD} (head).\n"
    engine = make_engine(database_url)
    try:
        assert {"answers", "messages", "campaigns"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()

    current = survey_gateway(database_url, tmp_path, "current", "--check")
    assert (current.exit_code, current.output) == (0, f"{HEAD} (head)\n")
    assert head_revisions() == (HEAD,)


def test_upgrade_to_an_unknown_revision_is_an_error_not_a_traceback(
    database_url: str, tmp_path: Path
) -> None:
    result = survey_gateway(database_url, tmp_path, "upgrade", "9999")

    assert result.exit_code == 1
    assert result.output.startswith("Error: ")
    assert "9999" in result.output


def test_revision_writes_the_next_migration_after_head(tmp_path: Path) -> None:
    shipped = sorted(VERSIONS_DIR.iterdir())
    versions = tmp_path / "versions"
    url = f"sqlite:///{tmp_path / 'unused.db'}"

    result = survey_gateway(
        url, tmp_path, "revision", "-m", "Add a column", "--versions-dir", str(versions)
    )

    assert result.exit_code == 0, result.output
    written = versions / "0010_add_a_column.py"
    assert result.output.endswith(f"Wrote {written}\n")
    text = written.read_text(encoding="utf-8")
    assert '"""Add a column' in text
    assert f"down_revision: str | Sequence[str] | None = '{HEAD}'" in text
    assert sorted(VERSIONS_DIR.iterdir()) == shipped  # nothing left in the package


def test_autogenerate_on_a_database_at_head_finds_nothing_to_add(
    database_url: str, tmp_path: Path
) -> None:
    assert survey_gateway(database_url, tmp_path, "upgrade").exit_code == 0

    result = autogenerate(database_url, tmp_path, "nothing")

    assert result.exit_code == 0, result.output
    body = (tmp_path / "v" / "0010_nothing.py").read_text(encoding="utf-8")
    assert "op." not in body.split("def upgrade")[1]  # the models add nothing to the schema


def test_autogenerate_refuses_a_database_behind_head(database_url: str, tmp_path: Path) -> None:
    assert survey_gateway(database_url, tmp_path, "upgrade", "0005").exit_code == 0

    result = autogenerate(database_url, tmp_path, "x")

    assert result.exit_code == 1
    assert result.output.startswith("Error: Target database is not up to date")
