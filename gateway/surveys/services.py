"""Retention, key rotation and flow imports as operations someone runs, audited the same whoever
runs them.

The purge runs nightly in a worker (actor ``worker``) and on demand at the command line (actor
``cli``); both go through :func:`purge_expired`, so the audit log words them alike. The work
itself is ``gateway.surveys.retention``; here it gets its transaction and its audit row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from flows import Flow, load_flows
from flows.versions import load_flow_versions
from gateway.core.clock import utc_now
from gateway.staff.audit import NamedActor, audit
from gateway.surveys.retention import PurgeReport, RotationReport, purge, rotate_keys

if TYPE_CHECKING:
    from gateway.core.runtime import Runtime
    from gateway.surveys.flow_files import ImportReport


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


def import_flow(rt: Runtime, actor: NamedActor | str, source: bytes, name: str) -> ImportReport:
    """Publish an XLSForm as a flow in the flows folder; XlsFormRefused when it cannot run.

    New runs start on it once the gateway's processes restart; runs under way keep theirs.
    """
    # pyxform takes a while to load: only the processes that import forms load it.
    from gateway.surveys.flow_files import import_xlsform

    report = import_xlsform(source, rt.settings.flows_folder, name=name)
    if not report.unchanged:
        with rt.sessions.begin() as session:
            flow = report.flow
            audit(session, actor, "flow.import", "flow", flow.id, f"version {flow.version}")
    return report


@dataclass(frozen=True, slots=True)
class PublishedFlow:
    """A flow as the flows folder has it: versions published, and the one running now."""

    flow: Flow
    versions: tuple[int, ...]
    running: int | None


def published_flows(rt: Runtime) -> list[PublishedFlow]:
    """Every flow on disk (shipped and imported), newest version and the earlier ones kept."""
    latest = load_flows(rt.settings.flows_folder)
    every = load_flow_versions(rt.settings.flows_folder, latest)
    return [
        PublishedFlow(
            flow=flow,
            versions=tuple(sorted((v for i, v in every if i == flow.id), reverse=True)),
            running=rt.flows[flow.id].version if flow.id in rt.flows else None,
        )
        for flow in sorted(latest.values(), key=lambda f: f.id)
    ]
