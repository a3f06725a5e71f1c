"""Exports of submissions for people: CSV, XLSX and HXL.

Nothing here ever reads a phone number: respondents appear by pseudonym. Every format has the
same columns (``EXPORT_COLUMNS`` then one per question key) and streams: rows come from the
database in batches and go out as they come. ``iso_utc`` and ``export_status`` serve the
listings too (``gateway.results.submissions``, the CLI); the outbox listing is in
``gateway.messaging.outbox``.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import IO, Any, Literal, TextIO, cast

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from flows.model import Flow
from gateway.results.selection import EVERYTHING, SubmissionFilter
from gateway.surveys.models import StoredAnswer, Submission, SubmissionStatus

EXPORT_COLUMNS: tuple[str, ...] = (
    "submission_id",
    "respondent",
    "flow",
    "flow_version",
    "channel",
    "enumerator",
    "language",
    "status",
    "started_at",
    "completed_at",
)
EXPIRED = "expired"
# Rows fetched per round trip: the export streams, however many submissions there are.
EXPORT_BATCH = 500
# HTTP downloads go out in pieces of about this size; an XLSX file is built in memory up to
# SPOOL_IN_MEMORY bytes, on disk beyond.
STREAM_CHUNK = 64 * 1024
SPOOL_IN_MEMORY = 4 * 1024 * 1024

# A cell starting like this is run as a formula by spreadsheet programs; answers to free-text
# questions come from anyone with a phone.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")
# Whole numbers an XLSX cell may hold as a number: no leading zero (a code like "01" stays
# text) and at most 15 digits, which a spreadsheet keeps exactly.
_XLSX_INTEGER = re.compile(r"0|-?[1-9][0-9]{0,14}")

ExportFormat = Literal["csv", "xlsx", "hxl"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("csv", "xlsx", "hxl")
_EXTENSIONS: dict[str, str] = {"csv": "csv", "xlsx": "xlsx", "hxl": "hxl.csv"}
MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "hxl": "text/csv; charset=utf-8",
}
# Flow ids as the flow schema allows them; nothing else ever becomes part of a file name.
_FLOW_ID = re.compile(r"[a-z][a-z0-9_]{0,63}")

# HXL 1.1 hashtags of the fixed columns (hxlstandard.org). Question columns take the flow's
# ``hxl`` or ``#indicator+<key>``.
META_HXL: dict[str, str] = {
    "submission_id": "#meta+id",
    "respondent": "#meta+respondent",
    "flow": "#meta+survey",
    "flow_version": "#meta+survey+version",
    "channel": "#meta+channel",
    "enumerator": "#meta+enumerator",
    "language": "#meta+lang",
    "status": "#status",
    "started_at": "#date+start",
    "completed_at": "#date+end",
}
_HXL_ATTRIBUTE = re.compile(r"[a-z][a-z0-9_]*")


def iso_utc(value: datetime | None) -> str:
    """Format a datetime as ISO 8601 UTC to the second, with ``Z`` (empty for None)."""
    if value is None:
        return ""
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _cell(value: str | None) -> str:
    if value is None:
        return ""
    if value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        # The leading apostrophe makes spreadsheets show the text instead of evaluating it.
        return "'" + value
    return value


def export_status(status: SubmissionStatus, expires_at: datetime, now: datetime) -> str:
    """A submission's status as exports and listings show it: ``expired`` for an abandoned run."""
    if status == SubmissionStatus.STARTED and expires_at < now:
        return EXPIRED
    return str(status)


def export_filename(flow: str, fmt: str, day: date) -> str:
    """``{flow}_{YYYY-MM-DD}.csv|xlsx|hxl.csv``; ValueError for anything not a safe flow id.

    The name goes into Content-Disposition headers and onto people's disks, so it is built
    only from a validated flow id, an ISO date and a fixed extension: no path, no quote.
    """
    if not isinstance(flow, str) or not _FLOW_ID.fullmatch(flow):
        raise ValueError(f"not a flow id: {flow!r}")
    if fmt not in _EXTENSIONS:
        raise ValueError(f"unknown export format {fmt!r} (known: {', '.join(EXPORT_FORMATS)})")
    return f"{flow}_{day.isoformat()}.{_EXTENSIONS[fmt]}"


def hxl_hashtags(flow: Flow) -> dict[str, str]:
    """The HXL hashtag of each question column: the flow's ``hxl`` or ``#indicator+<key>``."""
    return {q.key: q.hxl or _default_hashtag(q.key) for q in flow.questions}


def _default_hashtag(key: str) -> str:
    # An HXL attribute starts with a letter; a question key may start with a digit.
    return "#indicator+" + (key if _HXL_ATTRIBUTE.fullmatch(key) else f"q_{key}")


def export_csv(
    session: Session,
    flow_id: str,
    question_keys: Sequence[str],
    out: TextIO,
    now: datetime,
    *,
    selection: SubmissionFilter = EVERYTHING,
) -> int:
    """Write the flow's submissions as CSV, oldest first, one column per question; count rows.

    Answer columns hold the answer codes, in the order of ``question_keys``. A started
    submission past its ``expires_at`` is shown as ``expired``. ``respondent`` is always the
    household's pseudonym; ``enumerator`` is the code of the enumerator who took the survey for
    it, empty when the household answered alone. ``selection`` narrows the submissions to a
    period and a campaign. Open ``out`` with ``newline=""``: rows end with CRLF, as RFC 4180
    has it.
    """
    keys = _check(question_keys, now)
    records = _csv_records(session, flow_id, keys, now, selection, hashtags=None)
    return _write_csv(out, records, header_rows=1)


def export_hxl(
    session: Session,
    flow_id: str,
    question_keys: Sequence[str],
    out: TextIO,
    now: datetime,
    *,
    hashtags: Mapping[str, str] | None = None,
    selection: SubmissionFilter = EVERYTHING,
) -> int:
    """Write the CSV export with an HXL hashtag row under the header (HXL 1.1); count rows.

    ``hashtags`` gives a question key's hashtag (see :func:`hxl_hashtags`); keys it lacks get
    ``#indicator+<key>``. Everything else is as :func:`export_csv`.
    """
    keys = _check(question_keys, now)
    records = _csv_records(session, flow_id, keys, now, selection, hashtags=hashtags or {})
    return _write_csv(out, records, header_rows=2)


def export_xlsx(
    session: Session,
    flow_id: str,
    question_keys: Sequence[str],
    out: IO[bytes],
    now: datetime,
    *,
    selection: SubmissionFilter = EVERYTHING,
) -> int:
    """Write the export as an XLSX workbook of one sheet to a binary file; count rows.

    Same columns and values as :func:`export_csv`. The workbook is built in openpyxl's
    write-only mode, which spools rows to a temporary file instead of holding them in memory.
    Whole numbers in the answer columns (and the flow version) are numbers; all else is text,
    never a formula.
    """
    keys = _check(question_keys, now)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=flow_id[:31] or "export")
    bold = Font(bold=True)
    header = []
    for name in [*EXPORT_COLUMNS, *keys]:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    version_column = EXPORT_COLUMNS.index("flow_version")
    count = 0
    for row in _rows(session, flow_id, keys, now, selection):
        sheet.append(
            [
                _xlsx_value(value, number=i == version_column or i >= len(EXPORT_COLUMNS))
                for i, value in enumerate(row)
            ]
        )
        count += 1
    workbook.save(out)
    return count


def write_export(
    session: Session,
    flow: Flow,
    fmt: ExportFormat,
    out: IO[Any],
    now: datetime,
    *,
    selection: SubmissionFilter = EVERYTHING,
) -> int:
    """Export ``flow`` in ``fmt``; count rows. ``xlsx`` needs a binary file, the others text."""
    keys = flow.question_keys
    if fmt == "xlsx":
        return export_xlsx(session, flow.id, keys, cast(IO[bytes], out), now, selection=selection)
    text = cast(TextIO, out)
    if fmt == "hxl":
        tags = hxl_hashtags(flow)
        return export_hxl(session, flow.id, keys, text, now, hashtags=tags, selection=selection)
    if fmt == "csv":
        return export_csv(session, flow.id, keys, text, now, selection=selection)
    raise ValueError(f"unknown export format {fmt!r}")


def export_chunks(
    session: Session,
    flow: Flow,
    fmt: ExportFormat,
    now: datetime,
    *,
    selection: SubmissionFilter = EVERYTHING,
) -> Iterator[bytes]:
    """The export as bytes, for an HTTP response: CSV and HXL chunk by chunk as rows come.

    An XLSX file is a zip whose directory comes last, so it is built first, in a temporary
    file that stays in memory up to ``SPOOL_IN_MEMORY`` bytes, then sent in chunks.
    """
    keys = _check(flow.question_keys, now)
    if fmt == "xlsx":
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
            export_xlsx(session, flow.id, keys, spool, now, selection=selection)
            spool.seek(0)
            while chunk := spool.read(STREAM_CHUNK):
                yield chunk
        return
    if fmt not in ("csv", "hxl"):
        raise ValueError(f"unknown export format {fmt!r}")
    tags = hxl_hashtags(flow) if fmt == "hxl" else None
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    for record in _csv_records(session, flow.id, keys, now, selection, hashtags=tags):
        writer.writerow(record)
        if buffer.tell() >= STREAM_CHUNK:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def _csv_records(
    session: Session,
    flow_id: str,
    keys: Sequence[str],
    now: datetime,
    selection: SubmissionFilter,
    *,
    hashtags: Mapping[str, str] | None,
) -> Iterator[list[str]]:
    """The CSV rows: the header, the HXL hashtag row when ``hashtags`` is given, the data."""
    yield [*EXPORT_COLUMNS, *keys]
    if hashtags is not None:
        yield [
            *(META_HXL[column] for column in EXPORT_COLUMNS),
            *(hashtags.get(key) or _default_hashtag(key) for key in keys),
        ]
    for row in _rows(session, flow_id, keys, now, selection):
        yield [_cell(value) for value in row]


def _write_csv(out: TextIO, records: Iterator[list[str]], *, header_rows: int) -> int:
    writer = csv.writer(out)
    count = -header_rows
    for record in records:
        writer.writerow(record)
        count += 1
    return count


def _check(question_keys: Sequence[str], now: datetime) -> list[str]:
    if now.utcoffset() is None:
        raise ValueError("exports need a timezone-aware 'now'")
    keys = list(question_keys)
    if len(set(keys)) != len(keys):
        raise ValueError("question_keys holds a key twice")
    clash = set(keys) & set(EXPORT_COLUMNS)
    if clash:
        raise ValueError(f"question keys clash with export columns: {sorted(clash)}")
    return keys


def _xlsx_value(value: str, *, number: bool) -> str | int:
    if number and _XLSX_INTEGER.fullmatch(value):
        return int(value)
    # openpyxl refuses control characters; dropping them first also means none can hide a
    # leading "=" from the formula check.
    return _cell(ILLEGAL_CHARACTERS_RE.sub("", value))


def _rows(
    session: Session,
    flow_id: str,
    keys: Sequence[str],
    now: datetime,
    selection: SubmissionFilter,
) -> Iterator[list[str]]:
    """The export's rows as plain text, oldest first; cells are neutralised by each writer."""
    # One query, submissions joined to just the wanted answers, so rows stream in order
    # instead of being loaded whole or fetched submission by submission.
    stmt = (
        select(
            Submission.id,
            Submission.respondent_id,
            Submission.flow,
            Submission.flow_version,
            Submission.channel,
            Submission.enumerator_code,
            Submission.language,
            Submission.status,
            Submission.started_at,
            Submission.completed_at,
            Submission.expires_at,
            StoredAnswer.key.label("answer_key"),
            StoredAnswer.value.label("answer_value"),
        )
        .select_from(Submission)
        .outerjoin(
            StoredAnswer,
            and_(StoredAnswer.submission_id == Submission.id, StoredAnswer.key.in_(keys)),
        )
        .where(Submission.flow == flow_id, *selection.clauses())
        .order_by(Submission.started_at, Submission.id)
        .execution_options(yield_per=EXPORT_BATCH)
    )
    result = session.execute(stmt)
    for submission_id, rows in itertools.groupby(result, key=lambda row: row[0]):
        group = list(rows)
        first = group[0]
        answers = {row.answer_key: row.answer_value for row in group if row.answer_key is not None}
        yield [
            submission_id,
            first.respondent_id,
            first.flow,
            str(first.flow_version),
            first.channel,
            first.enumerator_code or "",
            first.language,
            export_status(first.status, first.expires_at, now),
            iso_utc(first.started_at),
            iso_utc(first.completed_at),
            *(answers.get(key) or "" for key in keys),
        ]
