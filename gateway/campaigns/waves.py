"""Waves: a repeating campaign invites the same audience again every few days.

A survey asked week by week of the same households (a return-intention panel) is one campaign
that repeats: wave 1 goes out when it is started, wave 2 ``repeat_days`` later, and so on for
``repeat_waves`` waves in all or until ``repeat_until``. Each wave is a fresh row per number in
``campaign_contacts`` (its ``wave`` column), copied from the wave before, so the fan-out sends
a wave exactly as it sends a one-shot campaign: once per number, paced, durable, and checking
opt-outs in the database at send time.

"Already completed" is per wave: a household that completed wave 1 is invited to wave 2; within
a wave nobody is invited twice (the invitation's key names the wave's own contact row). A USSD
wave's invitation marks the household as invited again in live state
(``SessionStore.invite_again``), so that dialling the code starts the survey instead of saying
it was answered, until the household completes it again (or the invitation's time is up). If
Redis loses that mark, the household is told it already answered: a USSD wave then reaches
only those who dial before. The wave an answer belongs to is the contact row whose ``run_id``
is the run, so the database stays the record of it.

Opening a wave is a compare-and-set on ``campaigns.wave``: of two workers due to open the same
wave, one moves the number on and copies the audience; the other changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import CursorResult, insert, literal, select, update
from sqlalchemy.orm import Session

from gateway.campaigns.errors import CampaignError
from gateway.campaigns.models import (
    Campaign,
    CampaignContact,
    CampaignStatus,
    ContactStatus,
)
from gateway.core.i18n import Translatable
from gateway.staff.audit import NamedActor, audit

if TYPE_CHECKING:
    # Only a type: the definition checks a spec's repeat here, so it imports this module.
    from gateway.campaigns.definition import CampaignSpec

DEFAULT_REPEAT_DAYS = 7
MAX_REPEAT_DAYS = 90
MAX_WAVES = 104  # two years of weekly waves
MAX_REPEAT_AHEAD = timedelta(days=2 * 365)


@dataclass(frozen=True, slots=True)
class Repeat:
    """A campaign's repeat as checked: every ``days`` days, for ``waves`` waves in all (the
    first included) and/or until ``until``."""

    days: int
    waves: int | None
    until: datetime | None


def check_repeat(spec: CampaignSpec, tz: ZoneInfo | None, now: datetime) -> Repeat | None:
    """The repeat ``spec`` asks for, or None for a one-shot campaign; ``CampaignError`` says
    what is wrong with it.

    A repeat needs an end: a number of waves or a last date (without a zone, a local time of
    ``tz``). The interval alone (the form shows 7) asks for nothing.
    """
    until = spec.repeat_until
    if spec.repeat_waves is None and until is None:
        return None
    days = DEFAULT_REPEAT_DAYS if spec.repeat_days is None else spec.repeat_days
    _in_range("repeat_days", days, 1, MAX_REPEAT_DAYS)
    if spec.repeat_waves is not None:
        _in_range("repeat_waves", spec.repeat_waves, 2, MAX_WAVES)
    if until is not None:
        if until.utcoffset() is None:
            until = until.replace(tzinfo=tz or UTC)
        if until <= now or until > now + MAX_REPEAT_AHEAD:
            raise CampaignError(
                Translatable(
                    "campaign_error.repeat_until",
                    until=until.date().isoformat(),
                    days=MAX_REPEAT_AHEAD.days,
                )
            )
    return Repeat(days, spec.repeat_waves, until)


def _in_range(what: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        said = Translatable(f"campaign_error.what.{what}")
        raise CampaignError(
            Translatable("campaign_error.range", what=said, low=low, high=high, value=value)
        )


def end_of_day(day: date) -> datetime:
    """The repeat's end for a last date given as a day: waves may open until that evening
    (a local time of the campaign's zone, which the campaign's checks attach)."""
    return datetime.combine(day, time(23, 59))


def is_repeating(campaign: Campaign) -> bool:
    """Whether the campaign invites its audience in more than one wave."""
    return campaign.repeat_days is not None


def wave_opens_at(campaign: Campaign, number: int, started_at: datetime) -> datetime | None:
    """When wave ``number`` of the campaign opens, or None when the repeat ends before it.

    Waves keep to the first one's schedule (its start, or when it was started), so a wave
    opened late does not push the next ones back.
    """
    if campaign.repeat_days is None or number < 1:
        return None
    if campaign.repeat_waves is not None and number > campaign.repeat_waves:
        return None
    base = started_at if campaign.start_at is None else max(campaign.start_at, started_at)
    moment = base + timedelta(days=campaign.repeat_days * (number - 1))
    if campaign.repeat_until is not None and moment > campaign.repeat_until:
        return None
    return moment


def open_wave(
    session: Session, campaign: Campaign, now: datetime, *, actor: NamedActor | str
) -> int | None:
    """Open the campaign's next wave if it is due and the campaign runs: the audience of the
    current wave is queued again as the new wave's contacts. The new wave's number, or None
    when there was nothing to open (another worker opened it first, say).
    """
    current, due = campaign.wave, campaign.next_wave_at
    if due is None or due > now or campaign.status is not CampaignStatus.RUNNING:
        return None
    started = campaign.started_at or now
    number = current + 1
    # The next wave after this one; a wave opened very late skips the ones it overlapped.
    following = number + 1
    later = wave_opens_at(campaign, following, started)
    while later is not None and later <= now:
        following += 1
        later = wave_opens_at(campaign, following, started)
    moved = session.execute(
        update(Campaign)
        .where(
            Campaign.id == campaign.id,
            Campaign.wave == current,
            Campaign.status == CampaignStatus.RUNNING,
        )
        .values(wave=number, next_wave_at=later)
        .execution_options(synchronize_session=False)
    )
    if not cast(CursorResult[Any], moved).rowcount:
        return None
    source = select(
        CampaignContact.campaign_id,
        literal(number, CampaignContact.wave.type),
        CampaignContact.row_number,
        CampaignContact.respondent_id,
        CampaignContact.phone_encrypted,
        CampaignContact.phone_masked,
        CampaignContact.language,
        CampaignContact.region,
        literal(ContactStatus.QUEUED, CampaignContact.status.type),
    ).where(CampaignContact.campaign_id == campaign.id, CampaignContact.wave == current)
    session.execute(
        insert(CampaignContact).from_select(
            [
                "campaign_id",
                "wave",
                "row_number",
                "respondent_id",
                "phone_encrypted",
                "phone_masked",
                "language",
                "region",
                "status",
            ],
            source,
        )
    )
    audit(session, actor, "campaign.wave", "campaign", campaign.id, f"wave {number}")
    session.refresh(campaign)
    return number


def due_campaigns(session: Session, now: datetime) -> list[Campaign]:
    """The running campaigns whose next wave is due."""
    return list(
        session.scalars(
            select(Campaign).where(
                Campaign.status == CampaignStatus.RUNNING,
                Campaign.next_wave_at.is_not(None),
                Campaign.next_wave_at <= now,
            )
        )
    )
