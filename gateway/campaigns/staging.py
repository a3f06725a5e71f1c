"""A list of numbers received with a form that must be corrected: kept for the next try.

A new-campaign form refused for a bad window or a missing name must not make staff choose
their file again. The file is read once to check it and count its rows (``read_list``); if
the form is refused it waits here, encrypted (it holds numbers in clear), in Redis under a
random token tied to the person who sent it, for ``STAGE_TTL_S``; the form carries the token,
and the next try takes the file back (``staged_list``). The campaign's own import then stores
it as any other upload (``gateway.campaigns.imports``).
"""

from __future__ import annotations

import io
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePath

from gateway.campaigns.audience import AudienceRow, csv_rows, xlsx_rows
from gateway.campaigns.imports import Format
from gateway.core.crypto import InvalidToken
from gateway.core.runtime import Runtime

STAGE_TTL_S = 3600
MAX_FILENAME = 80
# How an Excel workbook (a zip file) begins.
_ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True, slots=True)
class ReceivedList:
    """A list as received: its file name (for display only), format, rows and bytes."""

    filename: str
    format: Format
    rows: int
    data: bytes
    token: str = ""


def read_list(filename: str, data: bytes) -> ReceivedList:
    """Check a file of numbers (CSV in UTF-8 or Windows-1252, or an Excel workbook) and count
    its rows; CampaignError when it cannot be read (no phone column, not text...)."""
    format: Format = "xlsx" if data.startswith(_ZIP_MAGIC) else "csv"
    rows = sum(1 for _ in _rows(format, data))
    name = PurePath(filename.replace("\\", "/")).name[:MAX_FILENAME]
    return ReceivedList(name, format, rows, data)


def stage_list(rt: Runtime, owner: str, received: ReceivedList) -> ReceivedList:
    """Keep ``received`` for ``owner``'s next try; the list with its token."""
    token = secrets.token_urlsafe(16)
    meta = {"filename": received.filename, "format": received.format, "rows": received.rows}
    with rt.redis.pipeline() as pipe:
        pipe.hset(
            _key(owner, token),
            mapping={
                "meta": json.dumps(meta),
                "data": rt.cipher.encrypt_bytes(received.data),
            },
        )
        pipe.expire(_key(owner, token), STAGE_TTL_S)
        pipe.execute()
    return ReceivedList(received.filename, received.format, received.rows, received.data, token)


def staged_list(rt: Runtime, owner: str, token: str) -> ReceivedList | None:
    """The list ``owner`` sent under ``token``, or None if it is gone (an hour passed)."""
    if not token or len(token) > 64:
        return None
    found = {_str(k): _str(v) for k, v in rt.redis.hgetall(_key(owner, token)).items()}
    if "meta" not in found or "data" not in found:
        return None
    meta = json.loads(found["meta"])
    try:
        data = rt.cipher.decrypt_bytes(found["data"])
    except InvalidToken:
        return None
    return ReceivedList(meta["filename"], meta["format"], int(meta["rows"]), data, token)


def drop_staged(rt: Runtime, owner: str, token: str) -> None:
    """Forget a staged list once its campaign has it."""
    if token:
        rt.redis.delete(_key(owner, token))


def _rows(format: Format, data: bytes) -> Iterator[AudienceRow]:
    return xlsx_rows(io.BytesIO(data)) if format == "xlsx" else csv_rows(io.BytesIO(data))


def _str(value: bytes | str) -> str:
    return value.decode("ascii") if isinstance(value, bytes) else value


def _key(owner: str, token: str) -> str:
    return f"sg:campaign-list:{owner}:{token}"
