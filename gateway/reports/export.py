"""Reports as CSV (optionally with an HXL hashtag row) or XLSX with a codebook: one row per
report, one column per question, answer codes as stored.

A report is about a place: its columns are its reference, date, author's enumerator code and
answers; no number and no pseudonym. Withdrawn reports are left out, as from the figures.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from typing import IO, TextIO

from openpyxl import Workbook
from sqlalchemy.orm import Session

from flows import Flow, QuestionType
from gateway.reports.aggregates import ReportFilter, selected_reports
from gateway.reports.models import Report
from gateway.results.export_xlsx import add_codebook, cell_value, date_cell, header_row

# The columns before the answers, with their HXL hashtags.
META_COLUMNS: tuple[tuple[str, str], ...] = (
    ("reference", "#meta+ref"),
    ("reported_at", "#date+reported"),
    ("enumerator", "#meta+enumerator"),
    ("flow_version", "#meta+version"),
    ("channel", "#meta+channel"),
    ("language", "#meta+lang"),
)


def write_reports(
    session: Session, flow: Flow, selection: ReportFilter, out: TextIO, *, hxl: bool
) -> int:
    """Write the flow's reports that ``selection`` keeps as CSV (HXL: a hashtag row under the
    header); how many rows. Open ``out`` with ``newline=""``: rows end with CRLF."""
    keys = [q.key for q in flow.questions]
    writer = csv.writer(out)
    writer.writerow([name for name, _ in META_COLUMNS] + keys)
    if hxl:
        tags = {q.key: q.hxl or f"#indicator+{q.key}" for q in flow.questions}
        writer.writerow([tag for _, tag in META_COLUMNS] + [tags[key] for key in keys])
    rows = selected_reports(session, flow.id, selection)
    writer.writerows(_row(report, keys) for report in rows)
    return len(rows)


def write_reports_xlsx(
    session: Session, flow: Flow, selection: ReportFilter, out: IO[bytes]
) -> int:
    """Write the flow's reports that ``selection`` keeps as a workbook: a sheet of reports (the
    header frozen, the time a date cell in UTC, counts as numbers) and the flow's codebook."""
    keys = [q.key for q in flow.questions]
    counts = {q.key for q in flow.questions if q.type is QuestionType.INTEGER}
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=flow.id[:31])
    sheet.freeze_panes = "A2"
    header_row(sheet, [name for name, _ in META_COLUMNS] + keys)
    rows = selected_reports(session, flow.id, selection)
    for report in rows:
        answers = report.answers
        sheet.append(
            [
                cell_value(report.reference, number=False),
                date_cell(sheet, report.received_at),
                cell_value(report.enumerator_code or "", number=False),
                report.flow_version,
                report.channel,
                report.language,
                *(cell_value(answers.get(key, ""), number=key in counts) for key in keys),
            ]
        )
    add_codebook(workbook, flow)
    workbook.save(out)
    return len(rows)


def _row(report: Report, keys: Sequence[str]) -> list[str]:
    answers = report.answers
    return [
        report.reference,
        report.received_at.isoformat(timespec="seconds"),
        report.enumerator_code,
        str(report.flow_version),
        report.channel,
        report.language,
        *(answers.get(key, "") for key in keys),
    ]
