"""The XLSX export: the submissions sheet, with real numbers and dates, and the codebook.

The workbook is built in openpyxl's write-only mode, which spools rows to a temporary file
instead of holding them in memory. The header row stays in view (frozen) while one scrolls;
times are date cells in UTC; whole numbers in the answer columns (and the flow version) are
numbers; all else is text, never a formula.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from flows.model import Flow
from gateway.results.codebook import codebook_header, codebook_rows
from gateway.results.columns import EXPORT_COLUMNS, ExportLayout
from gateway.results.export_rows import ExportRow

# Whole numbers an XLSX cell may hold as a number: no leading zero (a code like "01" stays
# text) and at most 15 digits, which a spreadsheet keeps exactly.
_XLSX_INTEGER = re.compile(r"0|-?[1-9][0-9]{0,14}")
# A cell starting like this is run as a formula by spreadsheet programs; answers to free-text
# questions come from anyone with a phone.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")
# The fixed columns written as numbers (the others are text, even when they look like one).
_NUMBERS = frozenset(EXPORT_COLUMNS.index(name) for name in ("flow_version", "wave"))
DATE_FORMAT = "yyyy-mm-dd hh:mm:ss"
CODEBOOK_SHEET = "codebook"


def neutral(value: str | None) -> str:
    """A cell's text as a spreadsheet shows it and never runs it: ``'=...`` for ``=...``."""
    if value is None:
        return ""
    if value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        # The leading apostrophe makes spreadsheets show the text instead of evaluating it.
        return "'" + value
    return value


def write_xlsx(
    rows: Iterable[ExportRow],
    layout: ExportLayout,
    out: IO[bytes],
    *,
    title: str,
    flow: Flow | None = None,
) -> int:
    """Write the rows as a workbook to a binary file, with ``flow``'s codebook; count rows."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31] or "export")
    sheet.freeze_panes = "A2"
    header_row(sheet, layout.header)
    texts = layout.pcode_columns
    count = 0
    for row in rows:
        answers = layout.answer_cells(row.answers)
        sheet.append(
            [
                *(cell_value(value, number=i in _NUMBERS) for i, value in enumerate(row.meta)),
                date_cell(sheet, row.started_at),
                date_cell(sheet, row.completed_at),
                *(cell_value(value, number=i not in texts) for i, value in enumerate(answers)),
            ]
        )
        count += 1
    if flow is not None:
        add_codebook(workbook, flow)
    workbook.save(out)
    return count


def add_codebook(workbook: Workbook, flow: Flow) -> None:
    """The codebook sheet: each question's key, type and texts, each option's code and labels."""
    book = workbook.create_sheet(title=CODEBOOK_SHEET)
    book.freeze_panes = "A2"
    header_row(book, codebook_header(flow))
    for cells in codebook_rows(flow):
        book.append([cell_value(value, number=False) for value in cells])


def header_row(sheet: WriteOnlyWorksheet, names: Iterable[str]) -> None:
    bold = Font(bold=True)
    cells = []
    for name in names:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = bold
        cells.append(cell)
    sheet.append(cells)


def date_cell(sheet: WriteOnlyWorksheet, value: datetime | None) -> Any:
    if value is None:
        return None
    # Spreadsheets have no time zones: the cell holds UTC, as the CSV's "Z" times do.
    cell = WriteOnlyCell(sheet, value=value.astimezone(UTC).replace(tzinfo=None, microsecond=0))
    cell.number_format = DATE_FORMAT
    return cell


def cell_value(value: str, *, number: bool) -> str | int:
    if number and _XLSX_INTEGER.fullmatch(value):
        return int(value)
    # openpyxl refuses control characters; dropping them first also means none can hide a
    # leading "=" from the formula check.
    return neutral(ILLEGAL_CHARACTERS_RE.sub("", value))
