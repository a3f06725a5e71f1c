"""The job that imports an uploaded list into its campaign (see ``gateway.campaigns.imports``).

It takes the import's id and is safe to run twice: an import already done is left as it is,
and a run that died half-way added nothing. A list that cannot be read ends the import as
failed, with the reason; any other error raises, for RQ to retry.
"""

from __future__ import annotations

import logging

from gateway.campaigns.imports import run_import as import_upload
from workers.context import current

log = logging.getLogger(__name__)


def run_import(import_id: str) -> None:
    """Import the upload of ``import_id`` into its campaign's contacts."""
    ended = import_upload(current().runtime, import_id)
    if ended is None:
        log.warning("campaign import %s: no such import", import_id)
        return
    log.info(
        "campaign import %s %s: %d rows read, %d added, %d duplicates, %d opted out, %d invalid",
        import_id,
        ended.status,
        ended.rows_read,
        ended.accepted,
        ended.duplicates,
        ended.opted_out,
        ended.invalid_count,
    )
