"""A campaign's audience: numbers from a CSV file or a JSON list, checked, and stored encrypted.

Rows are read one at a time and written a chunk at a time, so a list of 100,000 numbers needs
no more memory than a chunk: nothing holds the whole file, nor a set of every number seen.
Each number is normalised to E.164, then kept only as a pseudonym, an encrypted token and a
masked form. A number listed twice (in the file, or already in the campaign) is dropped by the
database's unique key; a number that sent STOP (in Redis or in the database) is left out.

The report gives invalid rows by row number as a spreadsheet shows them (the CSV header is
row 1), with the number masked: the report goes back to whoever uploaded the file, and may be
kept longer than the list itself.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, cast

import openpyxl
from anyascii import anyascii
from sqlalchemy import select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from flows import Flow
from gateway.campaigns.definition import CampaignError
from gateway.campaigns.lifecycle import status_text
from gateway.campaigns.models import Campaign, CampaignContact, CampaignStatus, ContactStatus
from gateway.core.i18n import Translatable
from gateway.core.runtime import Runtime
from gateway.staff.audit import NamedActor, audit
from gateway.surveys.models import OptOut
from handlers.phone import mask_phone, normalise_phone

CHUNK_SIZE = 1000
# What the report lists row by row; beyond it, invalid rows are only counted.
MAX_REPORTED_ROWS = 1000
MAX_ROWS = 500_000
MAX_REGION = 64
PHONE_HEADERS = ("phone", "telephone", "numero", "tel", "msisdn", "phone_number")
LANGUAGE_HEADERS = ("language", "langue", "lang")
REGION_HEADERS = ("region",)
# Words people write for a language, besides its code and the flow's name for it.
_LANGUAGE_WORDS = {"french": "fr", "francais": "fr", "english": "en", "anglais": "en"}
_DELIMITERS = (",", ";", "\t")


@dataclass(frozen=True, slots=True)
class AudienceRow:
    """One entry of a list as given: the number as typed, and the optional columns."""

    row_number: int
    phone: str
    language: str | None = None
    region: str | None = None


@dataclass(frozen=True, slots=True)
class InvalidRow:
    """A row that was not taken, and why (the number in it masked).

    ``reason`` is in English, as the API and the CLI give it; ``problem`` is the same reason
    for the dashboard to say in the reader's language.
    """

    row_number: int
    reason: str
    problem: Translatable | None = field(default=None, compare=False)


@dataclass(slots=True)
class ImportReport:
    """What an import did: rows read; taken, dropped as duplicates, left out as opted out, invalid.

    ``invalid`` lists the first ``MAX_REPORTED_ROWS`` invalid rows; ``invalid_count`` counts
    them all.
    """

    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    opted_out: int = 0
    invalid_count: int = 0
    invalid: list[InvalidRow] = field(default_factory=list)

    def reject(self, row_number: int, problem: Translatable) -> None:
        """Count an invalid row; list it while the list is short enough to read."""
        self.invalid_count += 1
        if len(self.invalid) < MAX_REPORTED_ROWS:
            self.invalid.append(InvalidRow(row_number, problem.in_language("en"), problem))


def csv_rows(stream: IO[bytes] | IO[str]) -> Iterator[AudienceRow]:
    """The rows of a CSV file, read as they are needed.

    The header names the columns: ``phone`` (or ``telephone``, ``numero``; any case, accents
    ignored), and optionally ``language`` and ``region``. Commas, semicolons (Excel in French)
    and tabs are recognised from the header. Text is UTF-8, with or without a BOM, or
    Windows-1252 (what Excel in French saves as "CSV (séparateur: point-virgule)").
    """
    lines = stream if isinstance(stream, io.TextIOBase) else _decoded(cast(IO[bytes], stream))
    row_number = 1
    try:
        first = next(iter(lines), "")
        if not first.strip():
            raise CampaignError(Translatable("campaign_error.csv_empty"))
        delimiter = max(_DELIMITERS, key=first.count)
        reader = csv.reader(itertools.chain([first], lines), delimiter=delimiter)
        phone, language, region = _columns(next(reader))
        for row_number, cells in enumerate(reader, start=2):
            yield from _row(row_number, cells, phone, language, region)
    except UnicodeDecodeError:
        raise CampaignError(
            Translatable("campaign_error.csv_encoding", row=row_number + 1)
        ) from None
    except csv.Error as exc:
        problem = Translatable(
            "campaign_error.csv_unreadable", row=row_number + 1, problem=str(exc)
        )
        raise CampaignError(problem) from None


def xlsx_rows(stream: IO[bytes]) -> Iterator[AudienceRow]:
    """The rows of the first sheet of an Excel workbook (.xlsx), its first row the header, as
    for a CSV file. Numbers typed as numbers (22376000001) are read as their digits."""
    try:
        book = openpyxl.load_workbook(stream, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise CampaignError(Translatable("campaign_error.xlsx_unreadable")) from None
    try:
        sheet = book.worksheets[0]
        values = sheet.iter_rows(values_only=True)
        header = next(values, None)
        if header is None or not any(cell is not None for cell in header):
            raise CampaignError(Translatable("campaign_error.csv_empty"))
        phone, language, region = _columns([_text(cell) for cell in header])
        for row_number, cells in enumerate(values, start=2):
            yield from _row(row_number, [_text(cell) for cell in cells], phone, language, region)
    finally:
        book.close()


def _row(
    row_number: int,
    cells: Sequence[str],
    phone: int,
    language: int | None,
    region: int | None,
) -> Iterator[AudienceRow]:
    """The row as an entry of the list; nothing for a blank row."""
    if any(cell.strip() for cell in cells):
        yield AudienceRow(
            row_number, _cell(cells, phone) or "", _cell(cells, language), _cell(cells, region)
        )


def _text(cell: object) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell)


def _decoded(stream: IO[bytes]) -> Iterator[str]:
    """The lines of ``stream`` as text: each in UTF-8 if it is (a BOM first is dropped), else
    in Windows-1252. Decided line by line, so a file is read once, as it streams, and a
    Windows file whose first accent is at row 40,000 is read as well as one with it in row 2.
    A line that is neither raises UnicodeDecodeError."""
    first = True
    for raw in stream:
        if first:
            raw, first = raw.removeprefix(codecs.BOM_UTF8), False
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            # Bytes Windows-1252 leaves undefined (0x81, 0x8D...) raise here too.
            yield raw.decode("cp1252")


def json_rows(items: Iterable[Any]) -> Iterator[AudienceRow]:
    """The rows of a JSON list of ``{"phone", "language"?, "region"?}``, numbered from 1."""
    for row_number, item in enumerate(items, start=1):
        if not isinstance(item, Mapping):
            yield AudienceRow(row_number, "")
            continue
        values = [item.get(name) for name in ("phone", "language", "region")]
        phone, language, region = (str(v) if v is not None else None for v in values)
        yield AudienceRow(row_number, phone or "", language, region)


def import_audience(
    session: Session,
    rt: Runtime,
    campaign: Campaign,
    rows: Iterable[AudienceRow],
    *,
    actor: NamedActor | str,
    chunk_size: int = CHUNK_SIZE,
    progress: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    """Add ``rows`` to the campaign's contacts; returns the report. The caller commits.

    A draft, paused or running campaign takes more contacts (a running one invites them in
    turn); a number already in the campaign counts as a duplicate, so an import can be run
    again with a corrected file. ``progress`` is called with the report after each chunk.
    """
    check_open(campaign)
    flow = rt.flows[campaign.flow]
    report = ImportReport()
    chunk: list[dict[str, Any]] = []
    for count, row in enumerate(rows, start=1):
        if count > MAX_ROWS:
            raise CampaignError(Translatable("campaign_error.too_many_rows", max=MAX_ROWS))
        report.rows = count
        contact = _contact(rt, flow, campaign, row, report)
        if contact is not None:
            chunk.append(contact)
        if len(chunk) >= chunk_size:
            _store(session, rt, chunk, report)
            chunk = []
        if progress is not None and count % chunk_size == 0:
            progress(report)
    if chunk:
        _store(session, rt, chunk, report)
    audit(
        session,
        actor,
        "campaign.import",
        "campaign",
        campaign.id,
        f"rows={report.rows} accepted={report.accepted} duplicates={report.duplicates} "
        f"opted_out={report.opted_out} invalid={report.invalid_count}",
    )
    return report


def check_open(campaign: Campaign) -> None:
    """Refuse (409) to add contacts to a cancelled or completed campaign."""
    if campaign.status in (CampaignStatus.CANCELLED, CampaignStatus.COMPLETED):
        closed = Translatable(
            "campaign_error.closed_import", name=campaign.name, status=status_text(campaign)
        )
        raise CampaignError(closed, 409)


def _contact(
    rt: Runtime, flow: Flow, campaign: Campaign, row: AudienceRow, report: ImportReport
) -> dict[str, Any] | None:
    """The contact row to insert for ``row``, or None (and the reason in the report)."""
    raw = row.phone.strip()
    if not raw:
        report.reject(row.row_number, Translatable("campaign_row.no_phone"))
        return None
    e164 = normalise_phone(raw, rt.settings.phone_region)
    if e164 is None:
        report.reject(row.row_number, _not_a_number(raw))
        return None
    language = _language(flow, row.language)
    if language is False:
        offered = ", ".join(flow.languages)
        report.reject(
            row.row_number, Translatable("campaign_row.unknown_language", offered=offered)
        )
        return None
    region = " ".join((row.region or "").split()) or None
    if region is not None and len(region) > MAX_REGION:
        report.reject(row.row_number, Translatable("campaign_row.long_region", max=MAX_REGION))
        return None
    return {
        "campaign_id": campaign.id,
        # Numbers added to a repeating campaign join the wave being sent, and the next ones.
        "wave": campaign.wave,
        "row_number": row.row_number,
        "respondent_id": rt.services.pseudonymise(e164),
        "phone_encrypted": rt.cipher.encrypt(e164),
        "phone_masked": mask_phone(e164),
        "language": language,
        "region": region,
        "status": ContactStatus.QUEUED,
    }


def _store(
    session: Session, rt: Runtime, chunk: list[dict[str, Any]], report: ImportReport
) -> None:
    """Insert a chunk, leaving out opted-out numbers; duplicates are skipped by the database."""
    pseudonyms = [c["respondent_id"] for c in chunk]
    opted_out = rt.store.opted_out_among(pseudonyms)
    opted_out |= set(
        session.scalars(select(OptOut.respondent_id).where(OptOut.respondent_id.in_(pseudonyms)))
    )
    wanted = [c for c in chunk if c["respondent_id"] not in opted_out]
    report.opted_out += len(chunk) - len(wanted)
    if not wanted:
        return
    # INSERT ... ON CONFLICT DO NOTHING RETURNING id: the rows returned are the rows inserted,
    # so duplicates are counted without reading anything back.
    if session.get_bind().dialect.name == "postgresql":
        inserted = len(session.execute(_PG_INSERT, _as_columns(wanted)).all())
    else:
        inserted = len(session.execute(_SQLITE_INSERT, wanted).all())
    report.accepted += inserted
    report.duplicates += len(wanted) - inserted


_SQLITE_INSERT = (
    sqlite.insert(CampaignContact)
    .on_conflict_do_nothing(index_elements=["campaign_id", "wave", "respondent_id"])
    .returning(CampaignContact.id)
)
# On PostgreSQL a chunk is one statement over arrays, one per column: a VALUES list of 1,000
# rows would be 8,000 parameters for psycopg to parse in Python, for every chunk.
_PG_INSERT = text(
    """
    INSERT INTO campaign_contacts (campaign_id, wave, row_number, respondent_id,
                                   phone_encrypted, phone_masked, language, region, status)
    SELECT :campaign_id, :wave, r, p, e, m, l, g, :status
    FROM unnest(CAST(:row_number AS integer[]), CAST(:respondent_id AS varchar[]),
                CAST(:phone_encrypted AS text[]), CAST(:phone_masked AS varchar[]),
                CAST(:language AS varchar[]), CAST(:region AS varchar[])) AS t(r, p, e, m, l, g)
    ON CONFLICT (campaign_id, wave, respondent_id) DO NOTHING
    RETURNING id
    """
)


def _as_columns(rows: list[dict[str, Any]]) -> dict[str, Any]:
    columns: dict[str, Any] = {name: [row[name] for row in rows] for name in rows[0]}
    columns["campaign_id"] = rows[0]["campaign_id"]
    columns["wave"] = rows[0]["wave"]
    columns["status"] = ContactStatus.QUEUED.value
    return columns


def _language(flow: Flow, given: str | None) -> str | None | bool:
    """The flow's code for the language given; None when none was given; False if unknown."""
    word = anyascii((given or "").strip()).lower()
    if not word:
        return None
    if word in flow.languages:
        return word
    names = {anyascii(name).lower(): code for code, name in flow.languages.items()}
    code = names.get(word) or _LANGUAGE_WORDS.get(word)
    return code if code in flow.languages else False


def _columns(header: Sequence[str]) -> tuple[int, int | None, int | None]:
    names = [re.sub(r"[^a-z_]", "", anyascii(h).strip().lower()) for h in header]

    def find(candidates: Sequence[str]) -> int | None:
        return next((i for i, name in enumerate(names) if name in candidates), None)

    phone = find(PHONE_HEADERS)
    if phone is None:
        raise CampaignError(Translatable("campaign_error.no_phone_column"))
    return phone, find(LANGUAGE_HEADERS), find(REGION_HEADERS)


def _cell(cells: Sequence[str], index: int | None) -> str | None:
    return cells[index] if index is not None and index < len(cells) else None


def _not_a_number(raw: str) -> Translatable:
    """Why an entry is refused, showing its digits masked and nothing else of it."""
    digits = re.sub(r"\D", "", raw)
    if not digits:
        return Translatable("campaign_row.no_digits")
    masked = mask_phone(("+" if raw.startswith("+") else "") + digits)
    return Translatable("campaign_row.not_a_number", masked=masked)
