"""What staff do to campaigns, one function per operation, for the API, the dashboard and the CLI.

Each operation takes the runtime and the actor, does its work in one transaction, and commits
it with its audit row (the domain writes it: ``campaign.create`` in
``gateway.campaigns.definition``, ``campaign.start`` and the other changes in
``gateway.campaigns.lifecycle``, ``campaign.import`` when a list is imported in
``gateway.campaigns.imports``), so every surface leaves the same rows and the same audit
entries. Once committed, it hands the workers what follows, here and nowhere else: the import
of a list, the fan-out of a running campaign, the end of a cancelled one's reminders. The waves
of a repeating campaign are opened here too (``open_due_waves``, for the workers' periodic job). A
request that cannot be done raises ``CampaignError``, before anything is committed.

The surfaces only read their input, call one of these, and show what it returns.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, Literal

from gateway.campaigns.definition import CampaignSpec, create_campaign, find_campaign
from gateway.campaigns.imports import Format, queue_upload, run_import
from gateway.campaigns.lifecycle import (
    cancel_campaign,
    pause_campaign,
    resume_campaign,
    start_campaign,
)
from gateway.campaigns.models import Campaign, CampaignImport, CampaignStatus, ImportStatus
from gateway.campaigns.queue import CampaignJobs
from gateway.campaigns.waves import due_campaigns, open_wave
from gateway.core.runtime import Runtime
from gateway.staff.audit import NamedActor

Action = Literal["start", "pause", "resume", "cancel"]
_CHANGES: dict[Action, Callable[..., Campaign]] = {
    "start": start_campaign,
    "pause": pause_campaign,
    "resume": resume_campaign,
    "cancel": cancel_campaign,
}


@dataclass(frozen=True, slots=True)
class Audience:
    """A list of numbers as staff give it: a CSV file with a phone column, or a JSON list of
    ``{"phone", "language"?, "region"?}``, as a stream of bytes."""

    stream: IO[bytes]
    format: Format = "csv"

    @classmethod
    def of_contacts(cls, contacts: Sequence[Mapping[str, Any]]) -> Audience:
        """A list given as values (the API's JSON ``contacts``), imported as a JSON list."""
        return cls(io.BytesIO(json.dumps(list(contacts)).encode()), "json")


@dataclass(frozen=True, slots=True)
class Upload:
    """A campaign and the import of the list it was given: queued for a worker, or as it
    ended when imported at once (``import_now``)."""

    campaign: Campaign
    import_: CampaignImport


@dataclass(frozen=True, slots=True)
class Change:
    """A campaign after a state change asked for, and its status before."""

    campaign: Campaign
    before: CampaignStatus

    @property
    def changed(self) -> bool:
        """False when the campaign was already in the status asked for."""
        return self.campaign.status is not self.before


def campaign_jobs(rt: Runtime) -> CampaignJobs:
    """The campaign jobs of ``rt``'s queue: the one place they are built from a runtime."""
    return CampaignJobs(rt.queue)


def create_with_audience(
    rt: Runtime,
    actor: NamedActor,
    spec: CampaignSpec,
    audience: Audience,
    *,
    import_now: bool = False,
) -> Upload:
    """Create a draft campaign and store its list, in one transaction, then import the list.

    The campaign's values and the list's header are checked first: a refusal creates
    nothing. The list is imported by a worker, or here and now with ``import_now`` (the
    terminal waits for its report; a web request cannot wait for 500,000 rows).
    """
    with rt.sessions.begin() as session:
        campaign = create_campaign(
            session, spec, rt.flows, ussd_flow=rt.settings.ussd_flow, actor=actor
        )
        stored = queue_upload(
            session, rt.cipher, campaign, audience.stream, actor=actor, format=audience.format
        )
    return Upload(campaign, _import(rt, stored, import_now))


def add_contacts(
    rt: Runtime,
    actor: NamedActor,
    ident: str,
    audience: Audience,
    *,
    import_now: bool = False,
) -> Upload:
    """Store more numbers for the campaign ``ident`` (its id, or 6 characters or more of it),
    then import them as ``create_with_audience`` does.

    Numbers already in the campaign count as duplicates; a running campaign invites the new
    ones in turn; a cancelled or completed one takes none (409).
    """
    with rt.sessions.begin() as session:
        campaign = find_campaign(session, ident)
        stored = queue_upload(
            session, rt.cipher, campaign, audience.stream, actor=actor, format=audience.format
        )
    return Upload(campaign, _import(rt, stored, import_now))


def change_state(rt: Runtime, actor: NamedActor, ident: str, action: Action) -> Change:
    """Start, pause, resume or cancel the campaign ``ident``; audited when it changes.

    Asking for the status a campaign already has changes and audits nothing.
    """
    with rt.sessions.begin() as session:
        before = find_campaign(session, ident).status
        campaign = _CHANGES[action](session, ident, actor=actor)
    # Unchanged too: starting a running campaign whose fan-out job was lost with Redis queues
    # one again (at most one ever waits, so this never doubles a chain).
    campaign_jobs(rt).after_change(campaign)
    return Change(campaign, before)


def open_due_waves(rt: Runtime, actor: NamedActor | str, now: datetime) -> list[tuple[str, int]]:
    """Open the next wave of every running campaign whose wave is due, and get its
    invitations going: the one place waves are made. The campaigns and waves opened.

    Each wave is opened in a transaction of its own, once: a second worker doing the same
    at the same moment finds the wave opened and opens nothing (``gateway.campaigns.waves``).
    """
    with rt.sessions() as session:
        due = [campaign.id for campaign in due_campaigns(session, now)]
    opened: list[tuple[str, int]] = []
    for campaign_id in due:
        with rt.sessions.begin() as session:
            campaign = session.get(Campaign, campaign_id)
            number = None if campaign is None else open_wave(session, campaign, now, actor=actor)
        if number is not None:
            campaign_jobs(rt).fan_out(campaign_id)
            opened.append((campaign_id, number))
    return opened


def keep_import_going(rt: Runtime, found: CampaignImport) -> None:
    """Queue a pending import again if its job is gone: whoever follows an import keeps it
    going, so a job lost with Redis is not waited for in vain."""
    if found.status in (ImportStatus.QUEUED, ImportStatus.RUNNING):
        campaign_jobs(rt).revive_import(found.id)


def _import(rt: Runtime, stored: CampaignImport, now: bool) -> CampaignImport:
    """Once the upload is committed: queue its import, or import it here and now."""
    if not now:
        campaign_jobs(rt).run_import(stored.id)
        return stored
    ended = run_import(rt, stored.id)
    # None only for an import that does not exist, and this one was just committed.
    return ended if ended is not None else stored
