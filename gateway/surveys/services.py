"""Retention, key rotation, flow imports and publishing as operations someone runs, audited the
same whoever runs them (the dashboard or the command line).

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
from gateway.core.errors import DomainError
from gateway.core.flow_generation import flows_published
from gateway.staff.audit import NamedActor, audit
from gateway.surveys.retention import PurgeReport, RotationReport, purge, rotate_keys

if TYPE_CHECKING:
    from gateway.core.runtime import Runtime
    from gateway.surveys.flow_files import ImportReport, PublishReport


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
    """Import an XLSForm as the draft of its flow; XlsFormRefused when it cannot run.

    No household reaches a draft: it is tried in the phone simulator, then published.
    """
    # pyxform takes a while to load: only the processes that import forms load it.
    from gateway.surveys.flow_files import import_xlsform

    report = import_xlsform(source, rt.settings.flows_folder, name=name)
    if not report.unchanged:
        with rt.sessions.begin() as session:
            flow = report.flow
            detail = f"draft imported from {name[:80]}"
            audit(session, actor, "flow.import", "flow", _versioned(flow), detail)
    return report


def publish_flow(rt: Runtime, actor: NamedActor | str, flow_id: str) -> PublishReport:
    """Put the draft of ``flow_id`` in service: new runs start on it in every process.

    Runs under way keep the version they started on. Raises ``NoDraft`` when there is no draft,
    XlsFormRefused when a version as new was published since it was imported.
    """
    from gateway.surveys.flow_files import publish_draft

    report = publish_draft(rt.settings.flows_folder, flow_id)
    if report is None:
        raise NoDraft(flow_id)
    with rt.sessions.begin() as session:
        replaced = f"{flow_id}.v{report.replaced}" if report.replaced else None
        detail = f"in service, replacing {replaced}" if replaced else "in service"
        audit(session, actor, "flow.publish", "flow", _versioned(report.flow), detail)
    # The web processes and the workers take it up within a second or so.
    flows_published(rt.redis)
    rt.refresh_flows(now=True)
    return report


def _versioned(flow: Flow) -> str:
    # As the kept versions' files are named. In the object's name, not in the detail: the
    # detail is masked for anything that looks like a phone number, as versions often do.
    return f"{flow.id}.v{flow.version}"


class NoDraft(DomainError):
    """There is no draft of this flow to publish or preview."""

    def __init__(self, flow_id: str) -> None:
        super().__init__(f"no draft of flow '{flow_id[:64]}': import its XLSForm first", 404)


@dataclass(frozen=True, slots=True)
class PublishedFlow:
    """A flow as the flows folder has it: versions published, the one running, its draft."""

    flow: Flow
    versions: tuple[int, ...]
    running: int | None
    draft: Flow | None = None


def published_flows(rt: Runtime) -> list[PublishedFlow]:
    """Every flow on disk (shipped, imported, drafts), its versions and the one running."""
    from gateway.surveys.drafts import drafts

    latest = load_flows(rt.settings.flows_folder)
    every = load_flow_versions(rt.settings.flows_folder, latest)
    waiting = {flow.id: flow for flow in drafts(rt.settings.flows_folder)}
    found = [
        PublishedFlow(
            flow=flow,
            versions=tuple(sorted((v for i, v in every if i == flow.id), reverse=True)),
            running=rt.flows[flow.id].version if flow.id in rt.flows else None,
            draft=waiting.pop(flow.id, None),
        )
        for flow in latest.values()
    ]
    # A form imported for the first time: a draft, nothing published yet.
    found += [PublishedFlow(flow, (), None, flow) for flow in waiting.values()]
    return sorted(found, key=lambda f: f.flow.id)
