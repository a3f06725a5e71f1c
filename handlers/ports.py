"""What the channel handlers need from the host, as protocols (the gateway implements them).

Keeping these as protocols lets the handlers stay free of Redis and RQ imports while the
gateway supplies the real Redis-backed store and queue.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from flows import Flow, RunState
from flows.versions import flow_of_run


class Channel(StrEnum):
    """How a respondent reaches the gateway."""

    USSD = "ussd"
    SMS = "sms"


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A run as the gateway keeps it: the engine's state plus who, how and for whom.

    ``channel`` lists the channels the run was answered on, in order of first use
    (``ussd``, ``sms`` or ``ussd+sms``). ``enumerator`` is the code of the enumerator who
    took the survey for the household, if one did. ``reminder_count`` and
    ``reminder_interval`` override the flow's reminders for this run (a campaign sets them);
    None means the flow's.
    """

    state: RunState
    respondent: str
    channel: str
    phone_token: str
    enumerator: str | None = None
    reminder_count: int | None = None
    reminder_interval: timedelta | None = None

    def reminders(self, flow: Flow) -> tuple[int, timedelta]:
        """How many reminders an unanswered question of this run gets, and how far apart."""
        count = flow.reminder_count if self.reminder_count is None else self.reminder_count
        interval = self.reminder_interval or flow.reminder_interval
        return count, interval

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
    ENUMERATOR_MENU = "enumerator_menu"
    HOUSEHOLD_PHONE = "household_phone"


@dataclass(frozen=True, slots=True)
class Household:
    """The household an enumerator surveys in a USSD session, and the enumerator's code."""

    respondent: str
    phone_token: str
    enumerator: str


@dataclass(frozen=True, slots=True)
class UssdSession:
    """One AT USSD session: what was typed so far and what was last shown.

    ``respondent`` is the caller. When an enumerator surveys a household, ``household`` says
    whose run the session answers. ``hidden`` is the span of ``last_text`` masked with ``#``
    because a household's phone number was, or may have been, typed there (all the text of a
    session first seen with text already typed): numbers are never kept in clear.
    """

    session_id: str
    respondent: str
    flow_id: str
    run_id: str | None
    mode: UssdMode
    page: int
    last_text: str
    reply: str
    household: Household | None = None
    hidden: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``limit`` requests of one respondent on ``channel`` in ``window_s`` seconds."""

    channel: str
    limit: int
    window_s: int


class OverLimit(Exception):
    """The respondent went past a ``RateLimit``: the request is refused and changes nothing."""


class SessionStore(Protocol):
    """Live conversation state (Redis in the gateway)."""

    def lock(
        self, respondent: str, session_id: str | None = None, rate: RateLimit | None = None
    ) -> AbstractContextManager[None]:
        """Hold one respondent's state while a request works on it.

        ``session_id`` names the USSD session the request will load, so the store may read it
        with the lock; writes made inside may wait until the lock is let go. ``rate`` counts
        the request against a limit as the lock is taken: past it, ``OverLimit`` is raised
        and the lock is not taken.
        """
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

    def is_opted_out(self, respondent: str) -> bool:
        """True when the respondent sent STOP and has not sent START since."""
        ...

    def set_opted_out(self, respondent: str, opted_out: bool) -> None:
        """Record STOP (True) or START (False)."""
        ...

    def claim_help(self, respondent: str) -> bool:
        """True at most once a day per respondent: whether an unprompted help text may go."""
        ...

    def forget(self, respondent: str) -> None:
        """Erase the respondent's live state: runs, markers and language."""
        ...


class JobQueue(Protocol):
    """Work handed to the workers."""

    def sync_run(self, run_id: str, seq: int) -> None:
        """Ask a worker to copy the run into the database (and confirm it, once ended)."""
        ...

    def send_sms(self, reply: Reply) -> None:
        """Ask a worker to send one SMS (recorded in the outbox first)."""
        ...

    def remind(self, run_id: str, seq: int, number: int, delay: timedelta) -> None:
        """Ask a worker to remind the respondent after ``delay`` if step ``seq`` is unanswered."""
        ...

    def erase_respondent(self, respondent: str, phone_token: str, body: str) -> None:
        """Ask a worker to erase the respondent's data, then send ``body`` (not recorded)."""
        ...

    def record_opt_out(self, respondent: str, opted_out: bool, at: datetime) -> None:
        """Ask a worker to keep STOP / START in the database."""
        ...

    def withdraw_report(
        self, reply: Reply, code: str, typed: str, language: str, at: datetime
    ) -> None:
        """Ask a worker to withdraw enumerator ``code``'s report that ``typed`` names, as asked
        at ``at``; the answer goes as ``reply`` (its key and number, the body the worker's)."""
        ...


@dataclass(frozen=True, slots=True)
class Reply:
    """One SMS to send: ``key`` makes it unique, so a retried request sends it once."""

    key: str
    respondent: str
    phone_token: str
    kind: str
    body: str


@dataclass(frozen=True, slots=True)
class Services:
    """Everything a handler talks to, given by the host."""

    store: SessionStore
    jobs: JobQueue
    pseudonymise: Callable[[str], str]
    encrypt_phone: Callable[[str], str]
    now: Callable[[], datetime]
    new_id: Callable[[], str]
    # Where a number typed without its country code is read (an ISO region, "ML").
    phone_region: str
    # The registration flow: its texts make the USSD enumerator menu (None: no enumerators).
    enumerator_flow: Flow | None = None
    # Every version of every flow by id and version: a run goes on with the one it started on.
    flow_versions: Mapping[tuple[str, int], Flow] = field(default_factory=dict)
    # The flows an approved enumerator reports with, in the order of the USSD enumerator menu.
    report_flows: tuple[Flow, ...] = ()
    # A report's short reference, from its run id: shown at its end, typed to withdraw it.
    report_reference: Callable[[str], str] | None = None

    def report_flow(self, flow_id: str) -> Flow | None:
        """The report flow with this id (its latest version), if it is one."""
        return next((f for f in self.report_flows if f.id == flow_id), None)

    def flow_of(self, latest: Flow, state: RunState) -> Flow:
        """The version of ``latest``'s flow that the run of ``state`` started on."""
        return flow_of_run(latest, state, self.flow_versions)
