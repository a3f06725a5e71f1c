"""Retention and key rotation as operations someone runs, audited the same whoever runs them.

The purge runs nightly in a worker (actor ``worker``) and on demand at the command line (actor
``cli``); both go through :func:`purge_expired`, so the audit log words them alike. The work
itself is ``gateway.surveys.retention``; here it gets its transaction and its audit row.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from gateway.core.clock import utc_now
from gateway.staff.audit import NamedActor, audit
from gateway.surveys.retention import PurgeReport, RotationReport, purge, rotate_keys

if TYPE_CHECKING:
    from gateway.core.runtime import Runtime


def purge_expired(
    rt: Runtime,
    actor: NamedActor | str,
    *,
    days: int | None = None,
    now: datetime | None = None,
) -> PurgeReport:
    """Blank stored numbers and message bodies past retention (``days``, else the setting)."""
    with rt.sessions.begin() as session:
        report = purge(session, now or utc_now(), days or rt.settings.retention_days)
        audit(session, actor, "purge", "retention", None, "; ".join(report.lines()))
    return report


def rotate_stored_keys(rt: Runtime, actor: NamedActor | str) -> RotationReport:
    """Re-encrypt every stored number under the current key, live state included."""
    with rt.sessions.begin() as session:
        report = rotate_keys(session, rt.store, rt.cipher)
        audit(session, actor, "keys.rotate", "keys", None, str(report))
    return report
