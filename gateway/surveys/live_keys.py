"""The names of the live-state keys other modules read, and where their facts are on record."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

PREFIX = "sg:"
FACTS_READY_KEY = f"{PREFIX}facts"


def optout_key(respondent: str) -> str:
    """The key marking an opt-out (STOP)."""
    return f"{PREFIX}optout:{respondent}"


def optin_key(respondent: str) -> str:
    """The key marking a START the database may not hold yet."""
    return f"{PREFIX}optin:{respondent}"


def done_key(flow_id: str, respondent: str) -> str:
    """The key marking a completed flow; it holds the run's id."""
    return f"{PREFIX}done:{flow_id}:{respondent}"


def again_key(flow_id: str, respondent: str) -> str:
    """The key marking a household invited to answer a completed flow again (a repeating
    campaign's next wave), until it completes the flow again or the invitation expires."""
    return f"{PREFIX}again:{flow_id}:{respondent}"


def runs_key(respondent: str) -> str:
    """The hash of a respondent's run ids and active-run pointers."""
    return f"{PREFIX}r:{respondent}"


def rate_key(channel: str, respondent: str) -> str:
    """The key counting a respondent's requests on ``channel`` in the current window."""
    return f"{PREFIX}rate:{channel}:{respondent}"


def enumerator_key(respondent: str) -> str:
    """The key holding an approved enumerator's code."""
    return f"{PREFIX}enumerator:{respondent}"


def phone_key(respondent: str) -> str:
    """The key holding the encrypted number that queued replies to ``respondent`` go to."""
    return f"{PREFIX}phone:{respondent}"


class FactSource(Protocol):
    """Where the protective facts are on record (the database), for when Redis lost them."""

    def opted_out_among(self, respondents: Sequence[str]) -> set[str]:
        """Those of ``respondents`` with an opt-out on record."""
        ...

    def has_completed(self, flow_id: str, respondent: str) -> bool:
        """Whether the respondent's completion of the flow is on record."""
        ...

    def enumerator_code(self, respondent: str) -> str | None:
        """The code of the approved enumerator with this pseudonym, if on record."""
        ...
