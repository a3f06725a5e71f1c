"""How far a campaign got: its invitations, their delivery, and the runs they led to.

Counted in the database each time it is asked, from three sources that each own one part:
the contacts (queued, sent, opted out, skipped), the outbox (what AT's delivery reports said
of each invitation) and the submissions of the runs the invitations led to
(``campaign_contacts.run_id``). A run shows up as started once its first answer is stored.
The API, the dashboard and the CLI read a campaign's counts and the listing from here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, case, exists, func, or_, select
from sqlalchemy.orm import Session

from gateway.campaigns.definition import find_campaign, list_campaigns
from gateway.campaigns.models import Campaign, CampaignContact, CampaignStatus, ContactStatus
from gateway.core.clock import utc_now
from gateway.messaging.models import Message, MessageStatus
from gateway.surveys.models import OptOut, Submission, SubmissionStatus

# What the network reports as not reaching the handset, besides our own failures.
UNDELIVERED = (MessageStatus.FAILED, MessageStatus.REJECTED, MessageStatus.EXPIRED)
_WAITING = (ContactStatus.QUEUED, ContactStatus.SENDING)
# Shown for a completed campaign whose runs are still under way.
SENDING_DONE = "sending_done"


@dataclass(frozen=True, slots=True)
class Progress:
    """A campaign's counts, each a number of contacts.

    - ``queued``: invitations still to send; ``sent``: invitations handed to the outbox.
    - ``delivered`` / ``failed``: as AT reported the invitation (``failed`` includes rejected
      and network-expired messages, and invitations that could not be made).
    - ``started``: answered at least once and did not decline; ``completed`` /
      ``declined``: ended so.
    - ``expired``: invited, did not finish, and the run's time is up.
    - ``answering``: invited, and may still answer (the run is neither ended nor expired):
      reminders may still go to them.
    - ``opted_out``: sent STOP, before their invitation or since.
    - ``skipped``: had already completed the survey before their invitation.
    """

    contacts: int = 0
    queued: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    started: int = 0
    completed: int = 0
    declined: int = 0
    expired: int = 0
    answering: int = 0
    opted_out: int = 0
    skipped: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counts by name, in the order above."""
        return asdict(self)


def shown_status(campaign: Campaign, answering: int) -> str:
    """The campaign's status as staff should read it, ``answering`` being its count of that
    name: a completed campaign (every invitation sent) whose runs may still be answered, and
    reminded, is not over yet: its sending is done."""
    if campaign.status is CampaignStatus.COMPLETED and answering:
        return SENDING_DONE
    return campaign.status.value


def progress(session: Session, campaign: Campaign, now: datetime) -> Progress:
    """The campaign's counts at ``now``."""
    mine = CampaignContact.campaign_id == campaign.id
    by_status: dict[Any, int] = dict(
        session.execute(
            select(CampaignContact.status, func.count())
            .where(mine)
            .group_by(CampaignContact.status)
        ).all()
    )
    by_message: dict[Any, int] = dict(
        session.execute(
            select(Message.status, func.count())
            .join(CampaignContact, CampaignContact.message_id == Message.id)
            .where(mine)
            .group_by(Message.status)
        ).all()
    )
    runs = session.execute(
        select(
            _count(Submission.status != SubmissionStatus.DECLINED),
            _count(Submission.status == SubmissionStatus.COMPLETED),
            _count(Submission.status == SubmissionStatus.DECLINED),
            _count(
                and_(Submission.status == SubmissionStatus.STARTED, Submission.expires_at < now)
            ),
        )
        .select_from(CampaignContact)
        .join(Submission, Submission.id == CampaignContact.run_id)
        .where(mine)
    ).one()
    # Invited, never answered, and past the time a run of this campaign may be answered.
    unanswered_expired = session.scalar(
        _invited(
            campaign,
            Submission.id.is_(None),
            CampaignContact.sent_at < now - timedelta(hours=campaign.expiry_hours),
        )
    )
    opted_out = session.scalar(
        select(func.count())
        .select_from(CampaignContact)
        .where(
            mine,
            or_(
                CampaignContact.status == ContactStatus.OPTED_OUT,
                exists().where(OptOut.respondent_id == CampaignContact.respondent_id),
            ),
        )
    )
    return Progress(
        contacts=sum(by_status.values()),
        queued=sum(by_status.get(s, 0) for s in _WAITING),
        sent=by_status.get(ContactStatus.SENT, 0),
        delivered=by_message.get(MessageStatus.DELIVERED, 0),
        failed=by_status.get(ContactStatus.FAILED, 0)
        + sum(by_message.get(s, 0) for s in UNDELIVERED),
        started=runs[0],
        completed=runs[1],
        declined=runs[2],
        expired=runs[3] + (unanswered_expired or 0),
        opted_out=opted_out or 0,
        skipped=by_status.get(ContactStatus.SKIPPED, 0),
        answering=count_answering(session, campaign, now),
    )


def progress_now(session: Session, campaign: Campaign) -> Progress:
    """The campaign's counts as they stand."""
    return progress(session, campaign, utc_now())


def find_with_progress(session: Session, ident: str) -> tuple[Campaign, Progress]:
    """The campaign (by id or id prefix, as ``find_campaign``) and its counts now."""
    campaign = find_campaign(session, ident)
    return campaign, progress_now(session, campaign)


@dataclass(frozen=True, slots=True)
class Listed:
    """A campaign in a listing: its contacts, how many were invited and how many responded,
    and the status to show (``sending_done`` while invited households may still answer)."""

    campaign: Campaign
    contacts: int
    invited: int
    responses: int
    shown: str

    @property
    def share(self) -> float:
        """Responses (completed surveys) as a share of the invited."""
        return self.responses / self.invited if self.invited else 0.0


def listing(session: Session, now: datetime, limit: int | None = None) -> list[Listed]:
    """The campaigns, newest first (the first ``limit`` of them), with their counts."""
    rows = list_campaigns(session)[:limit]
    counts = contact_counts(session)
    responses = response_counts(session)
    listed = []
    for row in rows:
        # Only a completed campaign needs to know whether anyone may still answer.
        answering = (
            count_answering(session, row, now) if row.status is CampaignStatus.COMPLETED else 0
        )
        contacts, invited = counts.get(row.id, (0, 0))
        shown = shown_status(row, answering)
        listed.append(Listed(row, contacts, invited, responses.get(row.id, 0), shown))
    return listed


def count_answering(session: Session, campaign: Campaign, now: datetime) -> int:
    """Invited, not opted out since, and whose run may still be answered: with no answer yet
    and within the campaign's expiry, or started and not expired."""
    found = session.scalar(
        _invited(
            campaign,
            ~exists().where(OptOut.respondent_id == CampaignContact.respondent_id),
            or_(
                and_(
                    Submission.id.is_(None),
                    CampaignContact.sent_at >= now - timedelta(hours=campaign.expiry_hours),
                ),
                and_(Submission.status == SubmissionStatus.STARTED, Submission.expires_at >= now),
            ),
        )
    )
    return found or 0


def _invited(campaign: Campaign, *conditions: Any) -> Select[int]:
    """COUNT of the campaign's invited contacts, with the run each led to if any, where
    ``conditions`` hold."""
    return (
        select(func.count())
        .select_from(CampaignContact)
        .outerjoin(Submission, Submission.id == CampaignContact.run_id)
        .where(
            CampaignContact.campaign_id == campaign.id,
            CampaignContact.status == ContactStatus.SENT,
            *conditions,
        )
    )


def response_counts(session: Session) -> dict[str, int]:
    """For every campaign id: the runs its invitations led to that were completed."""
    rows = session.execute(
        select(CampaignContact.campaign_id, func.count())
        .join(Submission, Submission.id == CampaignContact.run_id)
        .where(Submission.status == SubmissionStatus.COMPLETED)
        .group_by(CampaignContact.campaign_id)
    ).all()
    return {campaign_id: total for campaign_id, total in rows}


def contact_counts(session: Session) -> dict[str, tuple[int, int]]:
    """For every campaign id: (contacts, contacts invited), for listings."""
    rows = session.execute(
        select(
            CampaignContact.campaign_id,
            func.count(),
            _count(CampaignContact.status == ContactStatus.SENT),
        ).group_by(CampaignContact.campaign_id)
    ).all()
    return {campaign_id: (total, sent) for campaign_id, total, sent in rows}


def _count(condition: Any) -> Any:
    # COUNT of the rows where ``condition`` holds, portable to SQLite and PostgreSQL.
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)
