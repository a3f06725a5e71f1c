"""The reports table: one row per report an approved enumerator completed, about a place.

A report is not a household's answer: it has no respondent and no pseudonym of a household,
only its author (the enumerator) and its answers (codes and counts about a place). An
enumerator names a report by its short reference (``ANNULER 7K3D9Q``); a withdrawn report is
kept, marked, so the audit log and the counts can say what happened to it.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.clock import utc_now
from gateway.core.models import Base, UTCDateTime


class Report(Base):
    """One completed report; its id is the run id, its reference what the enumerator was shown.

    References are short (six characters) and so not unique across every report ever made:
    an enumerator's own reference within the hour a report can be withdrawn is.
    """

    __tablename__ = "reports"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    reference: Mapped[str] = mapped_column(String(12), index=True)
    # Emptied when the enumerator erases their data (EFFACER): a count about a place is no
    # one's personal data, and stays.
    enumerator_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("enumerators.id", ondelete="SET NULL"), index=True
    )
    # Kept too: a code is an enumerator's for good, and is what supervisors read.
    enumerator_code: Mapped[str] = mapped_column(String(12), index=True)
    flow: Mapped[str] = mapped_column(String(64), index=True)
    flow_version: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(8))
    language: Mapped[str] = mapped_column(String(8))
    # The answers by question key, as JSON: codes and numbers, as the flow stores them.
    answers_json: Mapped[str] = mapped_column(Text)
    # When the enumerator sent the last answer: the report's date.
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def answers(self) -> dict[str, str]:
        """The answers by question key."""
        loaded: dict[str, str] = json.loads(self.answers_json)
        return loaded
