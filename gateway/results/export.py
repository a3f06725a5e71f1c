"""Exports of submissions for people: CSV, XLSX and HXL, coded or labelled.

Nothing here ever reads a phone number: respondents appear by pseudonym. Every format has the
columns of one ``gateway.results.columns.ExportLayout`` (the fixed ``EXPORT_COLUMNS``, then
the answers, with a P-code after each region) and streams: rows come from the database in
batches and go out as they come. The coded export holds the flow's answer codes; the labelled
one (``labels="fr"``) their labels in that language. ``iso_utc`` and ``export_status`` serve
the listings too; the outbox listing is in ``gateway.messaging.outbox``.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import IO, Any, Literal, TextIO, cast

from sqlalchemy.orm import Session

from flows.model import Flow
from gateway.results.columns import (
    EXPORT_COLUMNS,
    META_HXL,
    ExportLayout,
    default_hashtag,
    flow_layout,
    plain_layout,
)
from gateway.results.export_rows import EXPIRED, export_rows, export_status, iso_utc
from gateway.results.export_xlsx import neutral, write_xlsx
from gateway.results.selection import EVERYTHING, SubmissionFilter

__all__ = [
    "EXPIRED",
    "EXPORT_COLUMNS",
    "META_HXL",
    "export_status",
    "iso_utc",
]

# HTTP downloads go out in pieces of about this size; an XLSX file is built in memory up to
# SPOOL_IN_MEMORY bytes, on disk beyond.
STREAM_CHUNK = 64 * 1024
SPOOL_IN_MEMORY = 4 * 1024 * 1024

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
_LANGUAGE = re.compile(r"[a-z]{2,3}")


def export_filename(flow: str, fmt: str, day: date, labels: str | None = None) -> str:
    """``{flow}_{YYYY-MM-DD}[_labels_{lang}].csv|xlsx|hxl.csv``; ValueError for unsafe parts.

    The name goes into Content-Disposition headers and onto people's disks, so it is built
    only from a validated flow id, an ISO date, a language code and a fixed extension.
    """
    if not isinstance(flow, str) or not _FLOW_ID.fullmatch(flow):
        raise ValueError(f"not a flow id: {flow!r}")
    if fmt not in _EXTENSIONS:
        raise ValueError(f"unknown export format {fmt!r} (known: {', '.join(EXPORT_FORMATS)})")
    if labels is not None and not _LANGUAGE.fullmatch(labels):
        raise ValueError(f"not a language code: {labels!r}")
    variant = f"_labels_{labels}" if labels else ""
    return f"{flow}_{day.isoformat()}{variant}.{_EXTENSIONS[fmt]}"


def hxl_hashtags(flow: Flow) -> dict[str, str]:
    """The HXL hashtag of each question column: the flow's ``hxl`` or ``#indicator+<key>``."""
    return {q.key: q.hxl or default_hashtag(q.key) for q in flow.answered}


def export_csv(
    session: Session,
    flow_id: str,
    question_keys: Sequence[str],
    out: TextIO,
    now: datetime,
    *,
    selection: SubmissionFilter = EVERYTHING,
    layout: ExportLayout | None = None,
) -> int:
    """Write the flow's submissions as CSV, oldest first, one column per question; count rows.

    Answer columns hold the answer codes, in the order of ``question_keys``, unless a
    ``layout`` says otherwise (labels, P-codes). A started submission past its
    ``expires_at`` is shown as ``expired``. ``respondent`` is always the household's
    pseudonym; ``enumerator`` is the code of the enumerator who took the survey for it, empty
    when the household answered alone. ``selection`` narrows the submissions to a period and
    a campaign. Open ``out`` with ``newline=""``: rows end with CRLF, as RFC 4180 has it.
    """
    layout = layout or plain_layout(_check(question_keys, now))
    records = _csv_records(session, flow_id, layout, now, selection, hxl=False)
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
    layout: ExportLayout | None = None,
) -> int:
    """Write the CSV export with an HXL hashtag row under the header (HXL 1.1); count rows.

    ``hashtags`` gives a question key's hashtag (see :func:`hxl_hashtags`); keys it lacks get
    ``#indicator+<key>``. Everything else is as :func:`export_csv`.
    """
    layout = layout or plain_layout(_check(question_keys, now), hashtags)
    records = _csv_records(session, flow_id, layout, now, selection, hxl=True)
    return _write_csv(out, records, header_rows=2)


def export_xlsx(
    session: Session,
    flow_id: str,
    question_keys: Sequence[str],
    out: IO[bytes],
    now: datetime,
    *,
    selection: SubmissionFilter = EVERYTHING,
    layout: ExportLayout | None = None,
    flow: Flow | None = None,
) -> int:
    """Write the export as an XLSX workbook to a binary file; count rows.

    Same columns and values as :func:`export_csv`, but times are date cells and whole
    numbers are numbers (see ``gateway.results.export_xlsx``). With ``flow`` the workbook
    has a second sheet, the flow's codebook.
    """
    layout = layout or plain_layout(_check(question_keys, now))
    rows = export_rows(session, flow_id, layout.keys, now, selection)
    return write_xlsx(rows, layout, out, title=flow_id, flow=flow)


def write_export(
    session: Session,
    flow: Flow,
    fmt: ExportFormat,
    out: IO[Any],
    now: datetime,
    *,
    selection: SubmissionFilter = EVERYTHING,
    labels: str | None = None,
) -> int:
    """Export ``flow`` in ``fmt``; count rows. ``xlsx`` needs a binary file, the others text.

    With ``labels`` (a language code) answers are written as their labels in that language.
    """
    layout = _flow_layout(flow, now, labels)
    if fmt == "xlsx":
        binary = cast(IO[bytes], out)
        return export_xlsx(
            session, flow.id, (), binary, now, selection=selection, layout=layout, flow=flow
        )
    if fmt not in ("csv", "hxl"):
        raise ValueError(f"unknown export format {fmt!r}")
    records = _csv_records(session, flow.id, layout, now, selection, hxl=fmt == "hxl")
    return _write_csv(cast(TextIO, out), records, header_rows=2 if fmt == "hxl" else 1)


def export_chunks(
    session: Session,
    flow: Flow,
    fmt: ExportFormat,
    now: datetime,
    *,
    selection: SubmissionFilter = EVERYTHING,
    labels: str | None = None,
) -> Iterator[bytes]:
    """The export as bytes, for an HTTP response: CSV and HXL chunk by chunk as rows come.

    An XLSX file is a zip whose directory comes last, so it is built first, in a temporary
    file that stays in memory up to ``SPOOL_IN_MEMORY`` bytes, then sent in chunks.
    """
    layout = _flow_layout(flow, now, labels)
    if fmt == "xlsx":
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
            export_xlsx(
                session, flow.id, (), spool, now, selection=selection, layout=layout, flow=flow
            )
            spool.seek(0)
            while chunk := spool.read(STREAM_CHUNK):
                yield chunk
        return
    if fmt not in ("csv", "hxl"):
        raise ValueError(f"unknown export format {fmt!r}")
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    for record in _csv_records(session, flow.id, layout, now, selection, hxl=fmt == "hxl"):
        writer.writerow(record)
        if buffer.tell() >= STREAM_CHUNK:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def _flow_layout(flow: Flow, now: datetime, labels: str | None) -> ExportLayout:
    _check(flow.answer_keys, now)
    if labels is not None and labels not in flow.languages:
        raise ValueError(f"the flow '{flow.id}' has no language {labels!r}")
    return flow_layout(flow, labels)


def _csv_records(
    session: Session,
    flow_id: str,
    layout: ExportLayout,
    now: datetime,
    selection: SubmissionFilter,
    *,
    hxl: bool,
) -> Iterator[list[str]]:
    """The CSV rows: the header, the HXL hashtag row when ``hxl``, then the data."""
    yield list(layout.header)
    if hxl:
        yield list(layout.header_hashtags)
    for row in export_rows(session, flow_id, layout.keys, now, selection):
        cells = [*row.meta, iso_utc(row.started_at), iso_utc(row.completed_at)]
        yield [neutral(value) for value in [*cells, *layout.answer_cells(row.answers)]]


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
