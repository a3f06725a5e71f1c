"""What the gateway stored in PostgreSQL, read the way an operator would check it.

Every read may meet PostgreSQL stopped (one of the faults): callers get ``None`` then, never
an exception, and decide whether to wait and ask again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from sqlalchemy import func, inspect, select
from sqlalchemy.exc import SQLAlchemyError

from gateway.campaigns.models import Campaign, CampaignContact, CampaignStatus, ContactStatus
from gateway.core.crypto import pseudonymise
from gateway.core.db import make_engine
from gateway.surveys.models import Submission, SubmissionStatus

FINAL_CONTACT = frozenset(
    {ContactStatus.SENT, ContactStatus.FAILED, ContactStatus.OPTED_OUT, ContactStatus.SKIPPED}
)


class Records:
    """Reads from the gateway's database (short connect timeout: it may be down)."""

    def __init__(self, database_url: str, secret_key: str) -> None:
        self._engine = make_engine(
            database_url, pool_pre_ping=True, connect_args={"connect_timeout": 3}
        )
        self._secret_key = secret_key

    def close(self) -> None:
        """Close every connection."""
        self._engine.dispose()

    def migrated(self) -> bool:
        """Whether the workers have created the campaigns table yet."""
        try:
            return inspect(self._engine).has_table(Campaign.__tablename__)
        except SQLAlchemyError:
            return False

    def campaign_id(self, short: str) -> str | None:
        """The full id of the campaign whose id starts with ``short``."""
        try:
            with self._engine.connect() as connection:
                return connection.scalar(select(Campaign.id).where(Campaign.id.startswith(short)))
        except SQLAlchemyError:
            return None

    def campaign(self, campaign_id: str) -> tuple[CampaignStatus, Counter[str]] | None:
        """The campaign's status and its contacts counted by status."""
        try:
            with self._engine.connect() as connection:
                status = connection.scalar(
                    select(Campaign.status).where(Campaign.id == campaign_id)
                )
                rows = connection.execute(
                    select(CampaignContact.status, func.count())
                    .where(CampaignContact.campaign_id == campaign_id)
                    .group_by(CampaignContact.status)
                )
                counts = Counter({str(s): int(n) for s, n in rows})
        except SQLAlchemyError:
            return None
        if status is None:
            return None
        return CampaignStatus(status), counts

    def campaign_done(self, campaign_id: str) -> bool:
        """Completed, every contact in a final state (False too when the database is down)."""
        state = self.campaign(campaign_id)
        if state is None:
            return False
        status, counts = state
        unfinished = sum(n for s, n in counts.items() if ContactStatus(s) not in FINAL_CONTACT)
        return status is CampaignStatus.COMPLETED and unfinished == 0

    def completed(self, phones: Iterable[str]) -> set[str] | None:
        """Which of these numbers have a completed submission stored."""
        by_pseudonym = {pseudonymise(phone, self._secret_key): phone for phone in phones}
        if not by_pseudonym:
            return set()
        found: set[str] = set()
        pseudonyms = list(by_pseudonym)
        try:
            with self._engine.connect() as connection:
                for start in range(0, len(pseudonyms), 500):
                    rows = connection.scalars(
                        select(Submission.respondent_id).where(
                            Submission.respondent_id.in_(pseudonyms[start : start + 500]),
                            Submission.status == SubmissionStatus.COMPLETED,
                        )
                    )
                    found.update(by_pseudonym[r] for r in rows)
        except SQLAlchemyError:
            return None
        return found
