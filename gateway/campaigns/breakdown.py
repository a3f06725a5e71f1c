"""A campaign's progress broken down: by region the households say they live in, by day, and
by wave (a repeating campaign's).

``gateway.campaigns.progress`` counts the whole campaign; here the same runs (those its
invitations led to, ``campaign_contacts.run_id``) are counted by the answer to the flow's
region question, and the funnel (invited, started, completed) by day, in UTC. A declined run
counts as neither started nor completed, as in the progress.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from gateway.campaigns.models import Campaign, CampaignContact, ContactStatus
from gateway.surveys.models import StoredAnswer, Submission, SubmissionStatus

# The flow question whose answer places a household (see flows/surveys/return_intention.yaml).
REGION_KEY = "current_region"
# The funnel by day shows at most this many days, the latest.
MAX_DAYS = 31
# A run that started and did not decline, as the progress counts it.
_STARTED = (SubmissionStatus.STARTED, SubmissionStatus.COMPLETED)


@dataclass(frozen=True, slots=True)
class RegionCounts:
    """Runs that gave ``region`` (an option code) as their answer: started and completed."""

    region: str
    started: int
    completed: int


@dataclass(frozen=True, slots=True)
class Day:
    """One day (UTC) of a campaign: invitations sent, runs started and runs completed."""

    day: date
    invited: int = 0
    started: int = 0
    completed: int = 0


@dataclass(frozen=True, slots=True)
class WaveCounts:
    """One wave of a campaign: its contacts, invitations sent, runs started and completed."""

    wave: int
    contacts: int = 0
    invited: int = 0
    started: int = 0
    completed: int = 0


def by_wave(session: Session, campaign: Campaign) -> list[WaveCounts]:
    """The campaign's funnel wave by wave, the first first."""
    rows = session.execute(
        select(
            CampaignContact.wave,
            func.count(),
            func.sum(_is(CampaignContact.status == ContactStatus.SENT)),
            func.sum(_is(Submission.status.in_(_STARTED))),
            func.sum(_is(Submission.status == SubmissionStatus.COMPLETED)),
        )
        .select_from(CampaignContact)
        .outerjoin(Submission, Submission.id == CampaignContact.run_id)
        .where(CampaignContact.campaign_id == campaign.id)
        .group_by(CampaignContact.wave)
        .order_by(CampaignContact.wave)
    ).all()
    return [
        WaveCounts(int(wave), int(total), int(sent or 0), int(started or 0), int(done or 0))
        for wave, total, sent, started, done in rows
    ]


def by_region(session: Session, campaign: Campaign, key: str = REGION_KEY) -> list[RegionCounts]:
    """The campaign's runs by their answer to ``key``, most started first."""
    rows = session.execute(
        select(
            StoredAnswer.value,
            func.count(),
            func.sum(_is(Submission.status == SubmissionStatus.COMPLETED)),
        )
        .select_from(CampaignContact)
        .join(Submission, Submission.id == CampaignContact.run_id)
        .join(StoredAnswer, StoredAnswer.submission_id == Submission.id)
        .where(
            CampaignContact.campaign_id == campaign.id,
            StoredAnswer.key == key,
            Submission.status != SubmissionStatus.DECLINED,
        )
        .group_by(StoredAnswer.value)
    ).all()
    counted = [
        RegionCounts(str(value), int(started), int(done or 0)) for value, started, done in rows
    ]
    return sorted(counted, key=lambda row: (-row.started, row.region))


def by_day(session: Session, campaign: Campaign) -> list[Day]:
    """The campaign's funnel day by day (UTC), oldest first, the last ``MAX_DAYS`` days that
    saw anything."""
    mine = CampaignContact.campaign_id == campaign.id
    run = Submission.id == CampaignContact.run_id
    counts: dict[date, dict[str, int]] = defaultdict(dict)
    queries = {
        "invited": select(func.date(CampaignContact.sent_at), func.count())
        .where(mine, CampaignContact.sent_at.is_not(None))
        .group_by(func.date(CampaignContact.sent_at)),
        "started": select(func.date(Submission.started_at), func.count())
        .select_from(CampaignContact)
        .join(Submission, run)
        .where(mine, Submission.status != SubmissionStatus.DECLINED)
        .group_by(func.date(Submission.started_at)),
        "completed": select(func.date(Submission.completed_at), func.count())
        .select_from(CampaignContact)
        .join(Submission, run)
        .where(mine, Submission.status == SubmissionStatus.COMPLETED)
        .group_by(func.date(Submission.completed_at)),
    }
    for name, query in queries.items():
        for day, count in session.execute(query).all():
            if day is not None:
                counts[_day(day)][name] = int(count)
    days = sorted(counts)[-MAX_DAYS:]
    return [Day(day, **counts[day]) for day in days]


def _day(value: Any) -> date:
    # SQLite's date() gives text, PostgreSQL's a date.
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _is(condition: Any) -> Any:
    # 1 where ``condition`` holds, to be summed: portable to SQLite and PostgreSQL.
    return case((condition, 1), else_=0)
