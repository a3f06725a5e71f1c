"""A campaign's life: start, pause, resume and cancel by staff, completion by the fan-out.

The states: draft → running ⇄ paused → completed, or cancelled (a completed campaign too: its
runs' reminders go on for days, and cancelling stops them). Each change applies only if the
campaign is still in a status it may move from, so staff and the fan-out acting at the same
moment overwrite nothing; a change its state does not allow raises ``CampaignError`` (409).

As in ``gateway.campaigns.definition``, a change is written with its audit event and left to
the caller to commit (``gateway.campaigns.services``, for staff).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from gateway.campaigns.definition import CampaignError, find_campaign
from gateway.campaigns.models import (
    Campaign,
    CampaignContact,
    CampaignImport,
    CampaignStatus,
    ImportStatus,
)
from gateway.campaigns.waves import wave_opens_at
from gateway.core.clock import utc_now
from gateway.core.i18n import Translatable
from gateway.staff.audit import NamedActor, audit

# Statuses in which a campaign still has invitations to send, or may again.
_OPEN = (CampaignStatus.DRAFT, CampaignStatus.RUNNING, CampaignStatus.PAUSED)


def start_campaign(
    session: Session, ident: str, *, actor: NamedActor | str, now: datetime | None = None
) -> Campaign:
    """Start a draft (or a paused campaign): invitations go from ``start_at`` on, in hours."""
    campaign = find_campaign(session, ident)
    if campaign.status is CampaignStatus.RUNNING:
        return campaign
    _refuse_closed(campaign, Translatable("campaign_error.verb.start"))
    if has_pending_import(session, campaign.id):
        # Started now, it would invite part of the list, or find none and refuse for that.
        raise CampaignError(Translatable("campaign_error.import_pending", name=campaign.name), 409)
    if campaign.status is CampaignStatus.DRAFT and not _has_contacts(session, campaign):
        raise CampaignError(Translatable("campaign_error.no_contacts", name=campaign.name), 409)
    values: dict[str, Any] = {"status": CampaignStatus.RUNNING}
    if campaign.started_at is None:
        values["started_at"] = started = now or utc_now()
        values["next_wave_at"] = wave_opens_at(campaign, 2, started)
    return _move(session, campaign, _OPEN, values, actor, "campaign.start")


def pause_campaign(session: Session, ident: str, *, actor: NamedActor | str) -> Campaign:
    """Stop sending invitations until resumed; runs already started go on."""
    return _hold(session, ident, actor, "pause", CampaignStatus.RUNNING, CampaignStatus.PAUSED)


def resume_campaign(session: Session, ident: str, *, actor: NamedActor | str) -> Campaign:
    """Send the remaining invitations of a paused campaign."""
    return _hold(session, ident, actor, "resume", CampaignStatus.PAUSED, CampaignStatus.RUNNING)


def _hold(
    session: Session,
    ident: str,
    actor: NamedActor | str,
    verb: str,
    source: CampaignStatus,
    target: CampaignStatus,
) -> Campaign:
    """Pause or resume: a started campaign moves between running and paused, nothing else."""
    campaign = find_campaign(session, ident)
    if campaign.status is target:
        return campaign
    _refuse_closed(campaign, Translatable(f"campaign_error.verb.{verb}"))
    if campaign.status is CampaignStatus.DRAFT:
        raise CampaignError(
            Translatable(f"campaign_error.{verb}_not_started", name=campaign.name), 409
        )
    return _move(session, campaign, (source,), {"status": target}, actor, f"campaign.{verb}")


def cancel_campaign(
    session: Session, ident: str, *, actor: NamedActor | str, now: datetime | None = None
) -> Campaign:
    """Send no more invitations or reminders, for good; answers already given are kept.

    A completed campaign may be cancelled too: its invitations are all out, but its runs'
    reminders go on for days, and this stops them.
    """
    campaign = find_campaign(session, ident)
    if campaign.status is CampaignStatus.CANCELLED:
        return campaign
    values: dict[str, Any] = {"status": CampaignStatus.CANCELLED}
    if campaign.finished_at is None:
        values["finished_at"] = now or utc_now()
    allowed = (*_OPEN, CampaignStatus.COMPLETED)
    return _move(session, campaign, allowed, values, actor, "campaign.cancel")


def complete_campaign(session: Session, campaign_id: str, now: datetime) -> bool:
    """Mark a running campaign completed (nothing left to invite, and no wave to come); False
    if it was not running, or has a wave to come (it stays running, waiting for it).

    Conditional, so that staff pausing or cancelling at the same moment is not overwritten.
    """
    result = session.execute(
        update(Campaign)
        .where(
            Campaign.id == campaign_id,
            Campaign.status == CampaignStatus.RUNNING,
            Campaign.next_wave_at.is_(None),
        )
        .values(status=CampaignStatus.COMPLETED, finished_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(cast(CursorResult[Any], result).rowcount)


def _refuse_closed(campaign: Campaign, verb: Translatable) -> None:
    if campaign.status is CampaignStatus.CANCELLED:
        raise CampaignError(
            Translatable("campaign_error.cancelled", name=campaign.name, verb=verb), 409
        )
    if campaign.status is CampaignStatus.COMPLETED:
        raise CampaignError(Translatable("campaign_error.completed", name=campaign.name), 409)


def _move(
    session: Session,
    campaign: Campaign,
    allowed: Sequence[CampaignStatus],
    values: Mapping[str, Any],
    actor: NamedActor | str,
    action: str,
) -> Campaign:
    """Apply ``values`` if the campaign is still in an ``allowed`` status (the fan-out may have
    completed it meanwhile), audit it, and return the campaign as it now is."""
    before = campaign.status
    result = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id, Campaign.status.in_(allowed))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.refresh(campaign)
    if not cast(CursorResult[Any], result).rowcount:
        moved = Translatable(
            "campaign_error.moved", name=campaign.name, status=status_text(campaign)
        )
        raise CampaignError(moved, 409)
    audit(session, actor, action, "campaign", campaign.id, f"{before} -> {campaign.status}")
    return campaign


def status_text(campaign: Campaign) -> Translatable:
    """The campaign's status, to be said in the reader's language ("cancelled", "annulée")."""
    return Translatable(f"campaigns.state.{campaign.status.value}")


def _has_contacts(session: Session, campaign: Campaign) -> bool:
    found = session.scalars(
        select(CampaignContact.id).where(CampaignContact.campaign_id == campaign.id).limit(1)
    ).first()
    return found is not None


def has_pending_import(session: Session, campaign_id: str) -> bool:
    """Whether an import of the campaign's list is queued or running."""
    found = session.scalars(
        select(CampaignImport.id)
        .where(
            CampaignImport.campaign_id == campaign_id,
            CampaignImport.status.in_((ImportStatus.QUEUED, ImportStatus.RUNNING)),
        )
        .limit(1)
    ).first()
    return found is not None
