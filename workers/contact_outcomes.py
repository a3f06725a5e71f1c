"""What became of each contact of a campaign's fan-out, and what an earlier fan-out did.

The fan-out (``workers.campaigns``) notes each contact's outcome and writes the outcomes a few
at a time (``Marks``). A contact it finds claimed by a fan-out that died may have been invited
already: the outbox, the record of what was sent, says so (``completed_status`` for a one-shot
campaign, ``sent_invitation`` for a wave of a repeating one).
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, select, update

from gateway.campaigns.models import Campaign, CampaignContact, ContactStatus
from gateway.core.runtime import Runtime
from gateway.messaging.models import Message
from gateway.surveys.models import Submission
from workers.sms import reply_message_id

# Contacts whose outcome is written together.
MARK_EVERY = 25

_contacts = cast(Table, CampaignContact.__table__)
_MARK = (
    update(_contacts)
    .where(_contacts.c.id == bindparam("contact"))
    .values(
        status=bindparam("new_status"),
        run_id=bindparam("new_id"),
        message_id=bindparam("new_message_id"),
        sent_at=bindparam("new_sent_at"),
    )
)


def completed_status(rt: Runtime, key: str) -> ContactStatus:
    """For a contact who completed the survey before their turn: skipped, unless their
    invitation did go out (a job that died after sending it) and they completed since."""
    sent_ids = [reply_message_id(key), reply_message_id(f"{key}-1")]
    with rt.sessions() as session:
        invited = session.scalar(select(Message.id).where(Message.id.in_(sent_ids))) is not None
    return ContactStatus.SENT if invited else ContactStatus.SKIPPED


def invitation_went(rt: Runtime, message_id: str) -> bool:
    """Whether the outbox holds the message ``message_id`` (a USSD wave's invitation)."""
    with rt.sessions() as session:
        return session.scalar(select(Message.id).where(Message.id == message_id)) is not None


def sent_invitation(
    rt: Runtime, campaign: Campaign, contact: CampaignContact, key: str
) -> tuple[str, str | None] | None:
    """The outbox's message of an SMS invitation sent under ``key``, if it went, and the run
    it led to: the respondent's run still under way, else the last one started before it."""
    message_id = reply_message_id(f"{key}-1")
    with rt.sessions() as session:
        sent = session.scalar(select(Message.created_at).where(Message.id == message_id))
        if sent is None:
            return None
        active = rt.store.active_run(campaign.flow, contact.respondent_id)
        if active is not None and active.state.is_active:
            return message_id, active.state.run_id
        run_id = session.scalar(
            select(Submission.id)
            .where(
                Submission.respondent_id == contact.respondent_id,
                Submission.flow == campaign.flow,
                Submission.started_at <= sent,
            )
            .order_by(Submission.started_at.desc())
            .limit(1)
        )
    return message_id, run_id


class Marks:
    """What became of each contact, written a few at a time.

    A worker dying before a write leaves those contacts claimed: the next fan-out sends them
    again under the same keys, which sends nothing twice, and writes them then.
    """

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.rows: list[dict[str, object]] = []

    def add(
        self,
        contact_id: int,
        status: ContactStatus,
        *,
        run_id: str | None = None,
        message_id: str | None = None,
        sent_at: datetime | None = None,
    ) -> None:
        """Note a contact's outcome: the run and message of its invitation, if one went."""
        self.rows.append(
            {
                "contact": contact_id,
                "new_status": status,
                "new_id": run_id,
                "new_message_id": message_id,
                "new_sent_at": sent_at,
            }
        )
        if len(self.rows) >= MARK_EVERY:
            self.flush()

    def flush(self) -> None:
        """Write the outcomes noted so far, in one transaction."""
        if not self.rows:
            return
        with self.rt.sessions.begin() as session:
            # One statement for all: a contact erased meanwhile (DELETE) matches no row.
            session.connection().execute(_MARK, self.rows)
        self.rows = []
