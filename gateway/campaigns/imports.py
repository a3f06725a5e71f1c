"""The import of an uploaded list: it waits encrypted in the database, and a worker imports it.

A list of 500,000 numbers takes longer to import than a web request may last, so the request
only stores the upload and queues the import (``queue_upload``, then
``CampaignJobs.run_import``); the worker's job and the CLI both call ``run_import``, the one
import path. The upload holds numbers in clear: it waits in ``campaign_import_parts``, in
pieces of ``PART_BYTES`` each encrypted under the current key (a worker may run on another
machine than the web process, so not in a local file), and is read back a piece at a time, so
an import holds one piece in memory, never the file. The pieces are deleted in the transaction
that ends the import, done or failed; ``rotate_uploads`` re-encrypts those still waiting, and
``purge_stale_uploads`` removes any left after a day.

``run_import`` is safe to run twice: it claims the import row before reading the list (a
second run waits for the first to commit, then finds it done), and adds the contacts, the
report, the audit row and the deletion of the upload in one transaction, so a run that dies
half-way adds nothing and the next one starts afresh. Even without the claim, a number already
in the campaign is not added again (the contacts' unique key).
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import IO, Any, Literal

from redis.exceptions import RedisError
from sqlalchemy import CursorResult, delete, insert, select, update
from sqlalchemy.orm import Session

from gateway.campaigns.audience import (
    AudienceRow,
    ImportReport,
    check_open,
    csv_rows,
    import_audience,
    json_rows,
    xlsx_rows,
)
from gateway.campaigns.definition import CampaignError
from gateway.campaigns.models import Campaign, CampaignImport, CampaignImportPart, ImportStatus
from gateway.core.clock import utc_now
from gateway.core.crypto import InvalidToken, NumberCipher
from gateway.core.i18n import Translatable
from gateway.core.runtime import Runtime
from gateway.staff.audit import NamedActor, audit

PART_BYTES = 256 * 1024
# An upload still waiting after this long is removed by the purge, its import marked failed.
STALE_AFTER = timedelta(days=1)
PROGRESS_TTL_S = 3600
PENDING = (ImportStatus.QUEUED, ImportStatus.RUNNING)
Format = Literal["csv", "json", "xlsx"]


def queue_upload(
    session: Session,
    cipher: NumberCipher,
    campaign: Campaign,
    stream: IO[bytes],
    *,
    actor: NamedActor | str,
    format: Format = "csv",
) -> CampaignImport:
    """Store an uploaded list, encrypted, as a queued import of ``campaign``.

    The caller commits, then queues the job (``gateway.campaigns.services`` does both). What
    can be seen at once is refused at once (CampaignError): a closed campaign, an empty file, a
    CSV header without a phone column or not text. Rows, and a workbook (``xlsx``, read only
    whole), are checked by the import.
    """
    check_open(campaign)
    piece = stream.read(PART_BYTES)
    if format == "csv":
        _check_header(piece)
    found = CampaignImport(
        campaign_id=campaign.id,
        status=ImportStatus.QUEUED,
        format=format,
        created_by=str(actor)[:80],
        attempts=0,
        rows_read=0,
        accepted=0,
        duplicates=0,
        opted_out=0,
        invalid_count=0,
    )
    session.add(found)
    session.flush()
    seq = 0
    while piece:
        # A Core insert: the session keeps no object per piece, so memory stays one piece.
        part = {"import_id": found.id, "seq": seq, "data": cipher.encrypt_bytes(piece)}
        session.execute(insert(CampaignImportPart), [part])
        seq += 1
        piece = stream.read(PART_BYTES)
    return found


def run_import(rt: Runtime, import_id: str) -> CampaignImport | None:
    """Import a queued upload into its campaign's contacts; the import as it ended.

    None for an unknown import. An import already done or failed is left as it is. A list
    that cannot be read ends the import as failed, with the reason, and adds nothing; any
    other error (the database away) raises, for the job to be retried.
    """
    with rt.sessions.begin() as session:
        found = session.get(CampaignImport, import_id)
        if found is None:
            return None
        if found.status not in PENDING:
            return found
        found.status = ImportStatus.RUNNING
        found.started_at = utc_now()
        found.attempts += 1
    try:
        _import(rt, import_id)
    except CampaignError as exc:
        _fail(rt, import_id, exc)
    except InvalidToken:
        # A key was removed before `keys rotate` re-encrypted the upload: no retry can help.
        _fail(rt, import_id, CampaignError(Translatable("campaign_error.import_undecryptable")))
    finally:
        with contextlib.suppress(RedisError):  # the key expires by itself
            rt.redis.delete(_progress_key(import_id))
    with rt.sessions() as session:
        return session.get(CampaignImport, import_id)


def _import(rt: Runtime, import_id: str) -> None:
    with rt.sessions.begin() as session:
        # The claim: on PostgreSQL a second run of the same import waits here for the first
        # to commit, then matches nothing; on SQLite it takes the database's write lock.
        claimed: CursorResult[Any] = session.execute(  # type: ignore[assignment]
            update(CampaignImport)
            .where(CampaignImport.id == import_id, CampaignImport.status == ImportStatus.RUNNING)
            .values(status=ImportStatus.RUNNING)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:
            return
        found = session.get_one(CampaignImport, import_id)
        session.refresh(found)
        campaign = session.get_one(Campaign, found.campaign_id)
        stream = io.BufferedReader(_UploadReader(session, rt.cipher, import_id), PART_BYTES)

        def note(report: ImportReport) -> None:
            try:
                rt.redis.set(_progress_key(import_id), report.rows, ex=PROGRESS_TTL_S)
            except RedisError:
                pass  # only the progress shown is late: the import goes on

        rows = _rows(found.format, stream)
        report = import_audience(session, rt, campaign, rows, actor=found.created_by, progress=note)
        found.status = ImportStatus.DONE
        found.finished_at = utc_now()
        found.rows_read = report.rows
        found.accepted = report.accepted
        found.duplicates = report.duplicates
        found.opted_out = report.opted_out
        found.invalid_count = report.invalid_count
        found.invalid = json.dumps(
            [[r.row_number, r.reason, *_kept(r.problem)] for r in report.invalid]
        )
        _drop_upload(session, import_id)


def _fail(rt: Runtime, import_id: str, exc: CampaignError) -> None:
    """End the import as failed, saying why; the upload goes, nothing was added."""
    problem = exc.reason if isinstance(exc.reason, Translatable) else None
    with rt.sessions.begin() as session:
        found = session.get_one(CampaignImport, import_id)
        if found.status not in PENDING:
            return
        found.status = ImportStatus.FAILED
        found.finished_at = utc_now()
        found.problem = json.dumps([str(exc), *_kept(problem)])
        _drop_upload(session, import_id)
        audit(
            session,
            found.created_by,
            "campaign.import_failed",
            "campaign",
            found.campaign_id,
            f"import={import_id} {str(exc)[:200]}",
        )


def _drop_upload(session: Session, import_id: str) -> None:
    session.execute(delete(CampaignImportPart).where(CampaignImportPart.import_id == import_id))


def _rows(format: str, stream: IO[bytes]) -> Iterator[AudienceRow]:
    if format == "json":
        try:
            items = json.load(stream)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CampaignError(f"the list is not JSON: {exc}") from None
        if not isinstance(items, list):
            raise CampaignError("the list must be a JSON list of {'phone': ...} objects")
        return json_rows(items)
    if format == "xlsx":
        # A workbook is a zip file, read from its end: it is read whole (at most the upload's
        # limit, a few megabytes), not streamed.
        return xlsx_rows(io.BytesIO(stream.read()))
    return csv_rows(stream)


class _UploadReader(io.RawIOBase):
    """The decrypted upload as a stream of bytes, one piece read from the database at a time."""

    def __init__(self, session: Session, cipher: NumberCipher, import_id: str) -> None:
        super().__init__()
        self._session, self._cipher, self._import_id = session, cipher, import_id
        self._seq, self._piece, self._at = 0, b"", 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self._at >= len(self._piece):
            token = self._session.scalar(
                select(CampaignImportPart.data).where(
                    CampaignImportPart.import_id == self._import_id,
                    CampaignImportPart.seq == self._seq,
                )
            )
            if token is None:
                return 0
            self._piece, self._at, self._seq = self._cipher.decrypt_bytes(token), 0, self._seq + 1
        size = min(len(buffer), len(self._piece) - self._at)
        buffer[:size] = self._piece[self._at : self._at + size]
        self._at += size
        return size


def _check_header(first: bytes) -> None:
    """Refuse at once a list that is empty or whose header row names no phone column."""
    end = first.find(b"\n")
    if end < 0 and len(first) == PART_BYTES:
        return  # a header longer than a piece: the import will say what is wrong with it
    header = first if end < 0 else first[: end + 1]
    for _ in csv_rows(io.BytesIO(header)):
        pass


# -- what an import says ---------------------------------------------------------------------


def find_import(session: Session, campaign_id: str, import_id: str) -> CampaignImport:
    """The import ``import_id`` of the campaign; CampaignError 404 if there is none."""
    found = session.get(CampaignImport, import_id[:36])
    if found is None or found.campaign_id != campaign_id:
        raise CampaignError(
            Translatable("campaign_error.unknown_import", ident=import_id[:40]), 404
        )
    return found


def latest_import(session: Session, campaign_id: str) -> CampaignImport | None:
    """The campaign's last import, if any."""
    return session.scalars(
        select(CampaignImport)
        .where(CampaignImport.campaign_id == campaign_id)
        .order_by(CampaignImport.created_at.desc())
        .limit(1)
    ).first()


def rows_read(rt: Runtime, found: CampaignImport) -> int:
    """Rows read so far: live from the worker while it runs, else as recorded."""
    if found.status is ImportStatus.RUNNING:
        live = rt.redis.get(_progress_key(found.id))
        return int(live) if live else 0
    return found.rows_read


def invalid_rows(found: CampaignImport, language: str) -> list[tuple[int, str]]:
    """The report's invalid rows, ``(row number, reason in language)``; numbers masked."""
    return [(kept[0], _said(kept[1:], language)) for kept in json.loads(found.invalid or "[]")]


def problem_text(found: CampaignImport, language: str) -> str | None:
    """Why a failed import read nothing, in ``language``."""
    return _said(json.loads(found.problem), language) if found.problem else None


def _kept(problem: Translatable | None) -> list[Any]:
    """A reason's catalogue key and values, for it to be said later in any language."""
    if problem is None:
        return []
    return [problem.key, {k: _value(v) for k, v in problem.values.items()}]


def _value(value: Any) -> Any:
    if isinstance(value, Translatable):
        return {"message": value.key, "values": {k: _value(v) for k, v in value.values.items()}}
    return value if isinstance(value, int | float | str) or value is None else str(value)


def _message(value: Any) -> Any:
    if isinstance(value, dict) and "message" in value:
        return Translatable(
            value["message"], **{k: _message(v) for k, v in value["values"].items()}
        )
    return value


def _said(kept: list[Any], language: str) -> str:
    """``[English reason, key?, values?]`` in ``language``; the English when there is no key."""
    if len(kept) < 3:
        return str(kept[0])
    return Translatable(kept[1], **{k: _message(v) for k, v in kept[2].items()}).in_language(
        language
    )


def _progress_key(import_id: str) -> str:
    return f"sg:campaign-import:{import_id}:rows"


# -- keys and retention ----------------------------------------------------------------------


def rotate_uploads(session: Session, cipher: NumberCipher) -> int:
    """Re-encrypt every piece of upload still waiting under the current key; how many."""
    rotated = 0
    keys = session.execute(select(CampaignImportPart.import_id, CampaignImportPart.seq)).all()
    for import_id, seq in keys:
        # One piece at a time: a waiting upload may be 20 MB.
        token = session.scalar(
            select(CampaignImportPart.data).where(
                CampaignImportPart.import_id == import_id, CampaignImportPart.seq == seq
            )
        )
        if token is None:
            continue
        session.execute(
            update(CampaignImportPart)
            .where(CampaignImportPart.import_id == import_id, CampaignImportPart.seq == seq)
            .values(data=cipher.rotate(token))
        )
        rotated += 1
    return rotated


def purge_stale_uploads(session: Session, now: datetime) -> int:
    """Remove the uploads still waiting a day after they came, failing their imports; how
    many imports."""
    stale = session.scalars(
        select(CampaignImport).where(
            CampaignImport.status.in_(PENDING), CampaignImport.created_at < now - STALE_AFTER
        )
    ).all()
    for found in stale:
        found.status = ImportStatus.FAILED
        found.finished_at = now
        found.problem = json.dumps(
            ["the import did not finish within a day", "campaign_error.import_stale", {}]
        )
        _drop_upload(session, found.id)
    # Pieces of an import that ended without them (none should be left; this is the net).
    ended = select(CampaignImport.id).where(CampaignImport.status.not_in(PENDING))
    session.execute(delete(CampaignImportPart).where(CampaignImportPart.import_id.in_(ended)))
    return len(stale)
