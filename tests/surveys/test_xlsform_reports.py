"""Enumerators' report flows as XLSForms: ``subject`` in the settings sheet, rules between
answers in ``constraint`` with ``constraint_message`` as their error, both ways."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from flows import (
    InputRejected,
    QuestionAsked,
    QuestionType,
    RejectReason,
    load_flow,
    resume,
    start,
)
from flows.model import Check, CheckOp
from gateway.cli.main import cli
from gateway.surveys.xlsform_export import xlsform_bytes
from gateway.surveys.xlsform_import import read_xlsform
from gateway.surveys.xlsform_rules import XlsFormRefused

SHIPPED = Path(__file__).resolve().parents[2] / "flows" / "surveys"
REPORTS = ("flow_monitoring", "location_assessment")
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("flow_id", REPORTS)
def test_the_shipped_report_xlsforms_give_the_same_flows_as_the_yaml(flow_id: str) -> None:
    from_yaml = load_flow(SHIPPED / f"{flow_id}.yaml")
    imported = read_xlsform((SHIPPED / "xlsform" / f"{flow_id}.xlsx").read_bytes())

    assert imported.flow == from_yaml
    assert imported.flow.is_report and any(q.checks for q in imported.flow.questions)
    assert imported.notes == []


@pytest.mark.parametrize("flow_id", REPORTS)
def test_a_report_flow_exported_then_imported_is_the_same_flow(flow_id: str) -> None:
    flow = load_flow(SHIPPED / f"{flow_id}.yaml")
    assert read_xlsform(xlsform_bytes(flow)).flow == flow


def sheet_rows(source: bytes, name: str) -> list[dict[str, object]]:
    rows = list(load_workbook(BytesIO(source))[name].iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_the_exported_workbook_writes_the_subject_and_the_rules_as_xlsform_does() -> None:
    book = xlsform_bytes(load_flow(SHIPPED / "flow_monitoring.yaml"))

    (settings,) = sheet_rows(book, "settings")
    assert settings["subject"] == "report"
    vulnerable = next(r for r in sheet_rows(book, "survey") if r["name"] == "vulnerable")
    assert vulnerable["constraint"] == ". >= 0 and . <= 500 and . <= ${individuals}"
    assert vulnerable["constraint_message::Francais (fr)"] == (
        "Pas plus que le nombre de personnes ({limit})."
    )
    assert vulnerable["constraint_message::English (en)"] == (
        "Not more than the number of people ({limit})."
    )
    # A survey of respondents reads as before: no subject column.
    plain = xlsform_bytes(load_flow(SHIPPED / "return_intention.yaml"))
    assert "subject" not in sheet_rows(plain, "settings")[0]


def test_a_rule_imported_from_a_constraint_asks_again_with_its_message() -> None:
    flow = read_xlsform(edited(settings={}, survey={})).flow
    site = flow.question("idp_individuals")
    assert site.checks == (
        Check(
            CheckOp.NOT_BELOW,
            "idp_households",
            {
                "fr": "Pas moins que le nombre de ménages ({limit}).",
                "en": "Not fewer than the number of households ({limit}).",
            },
        ),
    )
    step = start(flow, run_id="r-1", language="en", now=NOW)
    for _ in range(len(flow.questions)):
        # The first option of each choice, 1 for numbers, a name for text, up to the households.
        if isinstance(step.screen, QuestionAsked) and step.screen.key == "idp_households":
            break
        asked = step.screen
        assert isinstance(asked, QuestionAsked)
        text = flow.question(asked.key).type is QuestionType.TEXT
        step = resume(flow, step.state, "Camp Nord" if text else "1", now=NOW)
    assert isinstance(step.screen, QuestionAsked) and step.screen.key == "idp_households"
    step = resume(flow, step.state, "40", now=NOW)
    again = resume(flow, step.state, "39", now=NOW)

    rejected, asked = again.events
    assert isinstance(rejected, InputRejected) and rejected.reason is RejectReason.CHECK_FAILED
    assert isinstance(asked, QuestionAsked) and asked.key == "idp_individuals"
    assert asked.error == "Not fewer than the number of households (40)."


def edited(*, settings: dict[str, str], survey: dict[str, str]) -> bytes:
    """The shipped site assessment with these settings cells, and these cells of the
    ``idp_individuals`` survey row, changed."""
    book = load_workbook(SHIPPED / "xlsform" / "location_assessment.xlsx")
    for name, changes, row in (
        ("settings", settings, 2),
        ("survey", survey, _row_of(book["survey"], "idp_individuals")),
    ):
        sheet = book[name]
        header = [cell.value for cell in sheet[1]]
        for column, value in changes.items():
            sheet.cell(row, header.index(column) + 1).value = value
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def _row_of(sheet: object, name: str) -> int:
    rows = list(sheet.iter_rows(values_only=True))  # type: ignore[attr-defined]
    return next(i + 1 for i, row in enumerate(rows) if row[1] == name)


def test_the_rule_row_is_where_the_shipped_form_has_it() -> None:
    book = load_workbook(SHIPPED / "xlsform" / "location_assessment.xlsx")
    assert _row_of(book["survey"], "idp_individuals") == ROW


ROW = 6  # the idp_individuals row of the shipped location_assessment.xlsx
MESSAGE_FR = "constraint_message::Francais (fr)"


@pytest.mark.parametrize(
    ("settings", "survey", "where", "why"),
    [
        ({"subject": "place"}, {}, "sheet settings, row 2, column subject", "respondent"),
        (
            {},
            {"constraint": ". >= 0 and . < ${idp_households}"},
            f"sheet survey, row {ROW}, column constraint",
            ". <= ${q} (not above) or . >= ${q} (not below)",
        ),
        (
            {},
            {"constraint": ". >= ${region}"},
            f"sheet survey, row {ROW}, column constraint",
            "not an earlier integer or decimal question",
        ),
        (
            {},
            {"constraint": ". <= ${returnee_individuals}"},
            f"sheet survey, row {ROW}, column constraint",
            "not an earlier integer or decimal question",
        ),
        (
            {},
            {MESSAGE_FR: None},  # type: ignore[dict-item]
            f"sheet survey, row {ROW}, column constraint_message",
            "no message in fr",
        ),
        (
            {},
            {"constraint": "${idp_households} <= ."},
            f"sheet survey, row {ROW}, column constraint",
            ". >= 1 and . <= ${q}",
        ),
    ],
    ids=["subject", "strict", "choice", "later", "message", "reversed"],
)
def test_what_a_report_form_cannot_say_is_refused_with_sheet_row_and_column(
    settings: dict[str, str], survey: dict[str, str], where: str, why: str
) -> None:
    with pytest.raises(XlsFormRefused) as refused:
        read_xlsform(edited(settings=settings, survey=survey))

    messages = [str(p) for p in refused.value.problems]
    assert any(m.startswith(where) and why in m for m in messages), messages


def test_a_flow_whose_rules_need_two_messages_is_not_exported(tmp_path: Path) -> None:
    flow = load_flow(SHIPPED / "flow_monitoring.yaml")
    vulnerable = flow.question("vulnerable")
    second = Check(CheckOp.NOT_ABOVE, "households", {"fr": "Non.", "en": "No."})
    two = replace(vulnerable, checks=(*vulnerable.checks, second))
    flows = tmp_path / "flows"
    flows.mkdir()
    text = (SHIPPED / "flow_monitoring.yaml").read_text(encoding="utf-8")
    extra = '      - not_above: households\n        error: {fr: "Non.", en: "No."}\n'
    marker = '          en: "Not more than the number of people ({limit})."\n'
    (flows / "flow_monitoring.yaml").write_text(text.replace(marker, marker + extra), "utf-8")
    assert load_flow(flows / "flow_monitoring.yaml").question("vulnerable") == two
    env = {"GATEWAY_VAR_DIR": str(tmp_path / "var"), "GATEWAY_FLOWS_DIR": str(flows)}

    result = CliRunner().invoke(
        cli, ["flows", "export", "flow_monitoring", "-o", str(tmp_path / "out.xlsx")], env=env
    )

    assert result.exit_code != 0
    assert "question 'vulnerable'" in result.output and "one constraint_message" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not (tmp_path / "out.xlsx").exists()
