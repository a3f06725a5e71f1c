"""Campaigns: staff invite a list of numbers to a survey, paced and within daily hours.

The domain, on a SQLAlchemy session: check and create a campaign, find one, work out when its
next invitation may go, and note which run an invitation led to. Moving a campaign between
states is in ``gateway.campaigns.lifecycle``, the audience import in
``gateway.campaigns.audience``, the counts in ``gateway.campaigns.progress``, the waves of a
repeating campaign in ``gateway.campaigns.waves``, the sending in ``workers.campaigns``.

Functions that change rows write their audit event in the same session and leave committing
to the caller: staff's operations go through ``gateway.campaigns.services``, which commits, then
hands the campaign to the workers.

``CampaignError`` and ``CampaignSpecError`` (in ``gateway.campaigns.errors``) are imported
from here too.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from flows import Flow
from gateway.campaigns.errors import CampaignError as CampaignError
from gateway.campaigns.errors import CampaignSpecError as CampaignSpecError
from gateway.campaigns.models import (
    Campaign,
    CampaignChannel,
    CampaignContact,
    CampaignStatus,
    ContactStatus,
)
from gateway.campaigns.waves import Repeat, check_repeat
from gateway.core.clock import utc_now
from gateway.core.i18n import Translatable
from gateway.core.lookup import rows_by_id
from gateway.staff.audit import NamedActor, audit

DEFAULT_WINDOW = "08:00-19:00"
DEFAULT_TIMEZONE = "Africa/Bamako"
DEFAULT_THROTTLE = 5.0
THROTTLE_MIN, THROTTLE_MAX = 0.1, 50.0
MAX_REMINDERS = 5
MAX_REMINDER_INTERVAL_HOURS = 7 * 24
MAX_EXPIRY_HOURS = 30 * 24
MAX_RETENTION_DAYS = 10 * 365
MAX_NAME = 100
# A start further ahead is a typing slip (2062 for 2026), and near the end of the calendar
# the fan-out could not work out a single opening.
MAX_START_AHEAD = timedelta(days=365)
# When a campaign stored before starts were bounded can send: never, in any calendar we have.
NEVER = datetime.max.replace(tzinfo=UTC)
# The flow text of a USSD campaign's invitation; "{code}" is filled with the USSD code.
INVITATION_TEXT = "invitation_ussd"
_WINDOW = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*")


@dataclass(frozen=True, slots=True)
class CampaignSpec:
    """What staff ask for. None for reminders or expiry means the flow's own.

    A ``start_at`` without a time zone is a local time of ``timezone``.
    """

    name: str
    flow: str
    channel: str
    start_at: datetime | None = None
    window: str = DEFAULT_WINDOW
    timezone: str = DEFAULT_TIMEZONE
    throttle: float = DEFAULT_THROTTLE
    reminder_count: int | None = None
    reminder_interval_hours: int | None = None
    expiry_hours: int | None = None
    retention_days: int | None = None
    # A repeat (see ``gateway.campaigns.waves``): every ``repeat_days`` days (7 when left out),
    # for ``repeat_waves`` waves in all or until ``repeat_until``; neither: a one-shot campaign.
    repeat_days: int | None = None
    repeat_waves: int | None = None
    repeat_until: datetime | None = None


def parse_window(text: str) -> tuple[time, time]:
    """Read a daily sending window such as ``08:00-19:00``; it opens before it closes."""
    match = _WINDOW.fullmatch(text)
    if match is None:
        raise CampaignError(Translatable("campaign_error.window_format", window=text[:20]))
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise CampaignError(Translatable("campaign_error.window_time", window=text[:20]))
    opens, closes = time(h1, m1), time(h2, m2)
    if opens >= closes:
        # Households are not texted at night: a window across midnight is refused, not guessed.
        raise CampaignError(Translatable("campaign_error.window_order", window=text[:20]))
    return opens, closes


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (``Africa/Bamako``)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CampaignError(Translatable("campaign_error.timezone", name=name[:64])) from None


@dataclass(slots=True)
class _Checked:
    """The values of a spec as they are stored, and what is wrong with the others."""

    problems: dict[str, CampaignError] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)

    def take(self, name: str, read: Callable[[], Any]) -> None:
        try:
            self.values[name] = read()
        except CampaignError as exc:
            self.problems[name] = exc


def check_spec(
    spec: CampaignSpec,
    flows: Mapping[str, Flow],
    *,
    ussd_flow: str,
    now: datetime | None = None,
) -> dict[str, CampaignError]:
    """Every problem with ``spec``, by field name (empty when it can be created); ``ussd``
    when the flow cannot be reached by a USSD invitation."""
    return _check(spec, flows, ussd_flow, now).problems


def _check(
    spec: CampaignSpec, flows: Mapping[str, Flow], ussd_flow: str, now: datetime | None
) -> _Checked:
    checked = _Checked()
    checked.take("name", lambda: _name(spec.name))
    checked.take("flow", lambda: _flow(flows, spec.flow))
    checked.take("channel", lambda: _channel(spec.channel))
    flow, channel = checked.values.get("flow"), checked.values.get("channel")
    if flow is not None and channel is CampaignChannel.USSD:
        checked.take("ussd", lambda: _check_ussd_flow(flow, ussd_flow))
    checked.take("window", lambda: parse_window(spec.window))
    checked.take("timezone", lambda: zone(spec.timezone))
    checked.take("throttle", lambda: _throttle(spec.throttle))
    tz = checked.values.get("timezone")
    checked.take("start_at", lambda: _start(spec.start_at, tz, now))
    checked.take("repeat", lambda: check_repeat(spec, tz, now or utc_now()))
    if flow is None:
        return checked
    reminders = flow.reminder_count if spec.reminder_count is None else spec.reminder_count
    interval = spec.reminder_interval_hours
    if interval is None:
        interval = int(flow.reminder_interval.total_seconds() // 3600)
    expiry = (
        int(flow.expiry.total_seconds() // 3600) if spec.expiry_hours is None else spec.expiry_hours
    )
    bounds: dict[str, tuple[int | None, int, int]] = {
        "reminder_count": (reminders, 0, MAX_REMINDERS),
        "reminder_interval_hours": (interval, 1, MAX_REMINDER_INTERVAL_HOURS),
        "expiry_hours": (expiry, 1, MAX_EXPIRY_HOURS),
        "retention_days": (spec.retention_days, 1, MAX_RETENTION_DAYS),
    }
    for name, (value, low, high) in bounds.items():
        checked.take(name, functools.partial(_in_range, name, value, low, high))
    return checked


def create_campaign(
    session: Session,
    spec: CampaignSpec,
    flows: Mapping[str, Flow],
    *,
    ussd_flow: str,
    actor: NamedActor | str,
    now: datetime | None = None,
) -> Campaign:
    """Check ``spec`` and add the campaign, as a draft without contacts.

    ``ussd_flow`` is the flow a household reaches by dialling the USSD code: the only one a
    ``ussd`` campaign can invite to. ``start_at`` may be at most a year after ``now``. Values
    out of bounds raise ``CampaignSpecError``, naming every one.
    """
    checked = _check(spec, flows, ussd_flow, now)
    if checked.problems:
        raise CampaignSpecError(checked.problems)
    values = checked.values
    flow, (opens, closes), tz = values["flow"], values["window"], values["timezone"]
    start_at = values["start_at"]
    campaign = Campaign(
        name=values["name"],
        flow=flow.id,
        channel=values["channel"],
        status=CampaignStatus.DRAFT,
        start_at=start_at.astimezone(UTC) if start_at is not None else None,
        window_start=opens,
        window_end=closes,
        timezone=tz.key,
        throttle=float(spec.throttle),
        reminder_count=values["reminder_count"],
        reminder_interval_hours=values["reminder_interval_hours"],
        expiry_hours=values["expiry_hours"],
        retention_days=values["retention_days"],
        created_by=str(actor)[:80],
    )
    repeat: Repeat | None = values["repeat"]
    if repeat is not None:
        campaign.repeat_days, campaign.repeat_waves = repeat.days, repeat.waves
        campaign.repeat_until = repeat.until.astimezone(UTC) if repeat.until else None
    session.add(campaign)
    session.flush()
    audit(
        session,
        actor,
        "campaign.create",
        "campaign",
        campaign.id,
        f"name={campaign.name} flow={flow.id} channel={campaign.channel}",
    )
    return campaign


def _name(given: str) -> str:
    name = " ".join(given.split())
    if any(ord(c) < 32 for c in given):
        raise CampaignError(Translatable("campaign_error.name_control"))
    if not name or len(name) > MAX_NAME:
        raise CampaignError(Translatable("campaign_error.name_length", max=MAX_NAME))
    return name


def _flow(flows: Mapping[str, Flow], flow_id: str) -> Flow:
    flow = flows.get(flow_id)
    if flow is None:
        known = ", ".join(sorted(flows))
        raise CampaignError(
            Translatable("campaign_error.unknown_flow", flow=flow_id[:64], known=known)
        )
    return flow


def _channel(given: str) -> CampaignChannel:
    try:
        return CampaignChannel(given)
    except ValueError:
        problem = Translatable("campaign_error.channel", channel=given[:16])
        raise CampaignError(problem) from None


def _throttle(throttle: float) -> float:
    if not THROTTLE_MIN <= throttle <= THROTTLE_MAX:
        raise CampaignError(
            Translatable(
                "campaign_error.throttle_range", low=THROTTLE_MIN, high=THROTTLE_MAX, given=throttle
            )
        )
    return throttle


def _start(start_at: datetime | None, tz: ZoneInfo | None, now: datetime | None) -> datetime | None:
    if start_at is None:
        return None
    if start_at.utcoffset() is None:
        if tz is None:
            return None  # the time zone is wrong: said there
        start_at = start_at.replace(tzinfo=tz)
    if start_at > (now or utc_now()) + MAX_START_AHEAD:
        raise CampaignError(
            Translatable(
                "campaign_error.start_too_late",
                start=start_at.replace(tzinfo=None).isoformat(timespec="minutes"),
                days=MAX_START_AHEAD.days,
            )
        )
    return start_at


_WHAT = {
    "reminder_count": "reminders",
    "reminder_interval_hours": "reminder_interval",
    "expiry_hours": "expiry",
    "retention_days": "retention",
}


def _in_range(name: str, value: int | None, low: int, high: int) -> int | None:
    # None only for the retention, which has no default: kept as long as the rules say.
    if value is not None and not low <= value <= high:
        what = Translatable(f"campaign_error.what.{_WHAT[name]}")
        raise CampaignError(
            Translatable("campaign_error.range", what=what, low=low, high=high, value=value)
        )
    return value


def _check_ussd_flow(flow: Flow, ussd_flow: str) -> None:
    if flow.id != ussd_flow:
        raise CampaignError(
            Translatable("campaign_error.ussd_flow", ussd_flow=ussd_flow, flow=flow.id)
        )
    if not flow.has_text(INVITATION_TEXT):
        raise CampaignError(
            Translatable("campaign_error.no_invitation", flow=flow.id, text=INVITATION_TEXT)
        )


def find_campaign(session: Session, ident: str) -> Campaign:
    """The campaign with this id, or the one whose id starts with it (6 characters or more)."""
    ident = ident.strip().lower()
    matches = rows_by_id(session, Campaign, ident)
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise CampaignError(Translatable("campaign_error.ambiguous_id", prefix=ident), 409)
    raise CampaignError(Translatable("campaign_error.unknown_id", ident=ident[:40]), 404)


def list_campaigns(session: Session) -> list[Campaign]:
    """Every campaign, newest first."""
    return list(session.scalars(select(Campaign).order_by(Campaign.created_at.desc())))


# -- timing ---------------------------------------------------------------------------------


def next_send_time(campaign: Campaign, now: datetime) -> datetime:
    """``now`` when an invitation may go now, else the next moment one may (in UTC).

    That is the later of ``now`` and ``start_at``, moved to the next opening of the daily
    window (in the campaign's time zone) when it falls outside it.
    """
    earliest = max(now, campaign.start_at) if campaign.start_at is not None else now
    tz = zone(campaign.timezone)
    try:
        local = earliest.astimezone(tz)
        if campaign.window_start <= local.time() < campaign.window_end:
            return earliest
        day = local.date() if local.time() < campaign.window_start else local.date() + timedelta(1)
        return datetime.combine(day, campaign.window_start, tzinfo=tz).astimezone(UTC)
    except OverflowError:
        # A start at the very end of the calendar, stored before starts were bounded: the
        # fan-out waits for ever instead of failing on every retry.
        return NEVER


def invitation_text(flow: Flow, language: str, ussd_code: str) -> str:
    """The SMS that invites a household to dial the USSD code, in ``language``."""
    return flow.text(INVITATION_TEXT, flow.language_or_default(language), code=ussd_code)


# -- runs -----------------------------------------------------------------------------------


def link_run(
    session: Session, respondent_id: str, flow: str, run_id: str, started_at: datetime
) -> None:
    """Note ``run_id`` on the USSD invitation that led to it: the respondent's latest invitation
    to ``flow``, sent before the run started, that no run answers yet.

    An SMS invitation starts its run itself and notes it then; a USSD one only asks the
    household to dial, so the run it led to is known when the run is first stored.
    """
    contact_id = session.scalars(
        select(CampaignContact.id)
        .join(Campaign, Campaign.id == CampaignContact.campaign_id)
        .where(
            CampaignContact.respondent_id == respondent_id,
            CampaignContact.status == ContactStatus.SENT,
            CampaignContact.run_id.is_(None),
            CampaignContact.sent_at <= started_at,
            Campaign.flow == flow,
            Campaign.channel == CampaignChannel.USSD,
        )
        .order_by(CampaignContact.sent_at.desc())
        .limit(1)
    ).first()
    if contact_id is not None:
        session.execute(
            update(CampaignContact)
            .where(CampaignContact.id == contact_id, CampaignContact.run_id.is_(None))
            .values(run_id=run_id)
            .execution_options(synchronize_session=False)
        )
