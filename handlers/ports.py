"""What the channel handlers need from the host, as protocols (the gateway implements them).

Keeping these as protocols lets the handlers stay free of Redis and RQ imports while the
gateway supplies the real Redis-backed store and queue.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from flows import RunState


class Channel(StrEnum):
    """How a respondent reaches the gateway."""

    USSD = "ussd"
    SMS = "sms"


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A run as the gateway keeps it: the engine's state plus who, how and for whom.

    ``channel`` lists the channels the run was answered on, in order of first use
    (``ussd``, ``sms`` or ``ussd+sms``). ``enumerator`` is the code of the enumerator who
    took the survey for the household, if one did.
    """

    state: RunState
    respondent: str
    channel: str
    phone_token: str
    enumerator: str | None = None

    def answered_on(self, channel: Channel) -> RunRecord:
        """The same run, noting that ``channel`` was used too."""
        used = self.channel.split("+")
        if channel.value in used:
            return self
        return replace(self, channel="+".join([*used, channel.value]))


class UssdMode(StrEnum):
    """What a USSD session is waiting for."""

    SURVEY = "survey"
    RESUME_MENU = "resume_menu"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class UssdSession:
    """One AT USSD session: what was typed so far and what was last shown."""

    session_id: str
    respondent: str
    flow_id: str
    run_id: str | None
    mode: UssdMode
    page: int
    last_text: str
    reply: str


class SessionStore(Protocol):
    """Live conversation state (Redis in the gateway)."""

    def lock(self, respondent: str) -> AbstractContextManager[None]:
        """Hold one respondent's state while a request works on it."""
        ...

    def load_session(self, session_id: str) -> UssdSession | None:
        """The USSD session, or None when unknown or expired."""
        ...

    def save_session(self, session: UssdSession) -> None:
        """Keep the USSD session for the next request of the same AT session."""
        ...

    def load_run(self, run_id: str) -> RunRecord | None:
        """A run by id, or None when unknown or past its keeping time."""
        ...

    def active_run(self, flow_id: str, respondent: str) -> RunRecord | None:
        """The respondent's unfinished run of a flow, if one can still be resumed."""
        ...

    def save_run(self, record: RunRecord) -> None:
        """Store a run; an ended run stops being the respondent's active run."""
        ...

    def has_completed(self, flow_id: str, respondent: str) -> bool:
        """True when the respondent already completed this flow."""
        ...

    def language(self, respondent: str) -> str | None:
        """The respondent's chosen language, if they chose one."""
        ...

    def set_language(self, respondent: str, language: str) -> None:
        """Remember the respondent's language for later surveys and messages."""
        ...

    def enumerator_code(self, respondent: str) -> str | None:
        """The code of the approved enumerator with this pseudonym, if there is one."""
        ...


class JobQueue(Protocol):
    """Work handed to the workers."""

    def sync_run(self, run_id: str, seq: int) -> None:
        """Ask a worker to copy the run into the database (and confirm it, once ended)."""
        ...


@dataclass(frozen=True, slots=True)
class Services:
    """Everything a handler talks to, given by the host."""

    store: SessionStore
    jobs: JobQueue
    pseudonymise: Callable[[str], str]
    encrypt_phone: Callable[[str], str]
    now: Callable[[], datetime]
    new_id: Callable[[], str]
