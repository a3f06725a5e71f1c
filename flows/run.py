"""A run of a flow, and what one engine call reports: the run state and the events.

Plain data with no behaviour beyond reading and writing itself: ``flows.engine`` moves a run
from one state to the next. A run state survives a round trip through JSON (``to_dict`` and
``from_dict``), which is how the live store keeps it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from flows.errors import RunStateError


class RunStatus(StrEnum):
    """Where a run is in its life."""

    ACTIVE = "active"
    COMPLETED = "completed"
    DECLINED = "declined"
    EXPIRED = "expired"


class RejectReason(StrEnum):
    """Why an input was not accepted as an answer."""

    EMPTY = "empty"
    NOT_A_CHOICE = "not_a_choice"
    NOT_A_NUMBER = "not_a_number"
    OUT_OF_RANGE = "out_of_range"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    # A valid number that breaks a rule against an earlier answer (the question's ``check``).
    CHECK_FAILED = "check_failed"


@dataclass(frozen=True, slots=True)
class Answer:
    """An accepted answer: its code or value, the run's step number, and when."""

    value: str
    seq: int
    at: datetime


@dataclass(frozen=True, slots=True)
class RunState:
    """One respondent's progress through one flow."""

    run_id: str
    flow_id: str
    flow_version: int
    language: str
    status: RunStatus
    current: str | None
    path: tuple[str, ...]
    answers: Mapping[str, Answer]
    seq: int
    invalid_count: int
    started_at: datetime
    updated_at: datetime
    expires_at: datetime
    ending: str | None = None

    @property
    def is_active(self) -> bool:
        """True while the run waits for an answer."""
        return self.status is RunStatus.ACTIVE

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form of the state."""
        return {
            "run_id": self.run_id,
            "flow_id": self.flow_id,
            "flow_version": self.flow_version,
            "language": self.language,
            "status": self.status.value,
            "current": self.current,
            "path": list(self.path),
            "answers": {
                key: {"value": a.value, "seq": a.seq, "at": a.at.isoformat()}
                for key, a in self.answers.items()
            },
            "seq": self.seq,
            "invalid_count": self.invalid_count,
            "started_at": self.started_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "ending": self.ending,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunState:
        """Read a state back from ``to_dict``'s form; RunStateError if it is corrupt."""
        try:
            return cls(
                run_id=str(data["run_id"]),
                flow_id=str(data["flow_id"]),
                flow_version=int(data["flow_version"]),
                language=str(data["language"]),
                status=RunStatus(data["status"]),
                current=data["current"],
                path=tuple(str(k) for k in data["path"]),
                answers={str(key): _answer(a) for key, a in data["answers"].items()},
                seq=int(data["seq"]),
                invalid_count=int(data["invalid_count"]),
                started_at=datetime.fromisoformat(data["started_at"]),
                updated_at=datetime.fromisoformat(data["updated_at"]),
                expires_at=datetime.fromisoformat(data["expires_at"]),
                ending=data.get("ending"),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise RunStateError(f"run state cannot be read: {exc!r}") from exc


def _answer(data: Mapping[str, Any]) -> Answer:
    return Answer(str(data["value"]), int(data["seq"]), datetime.fromisoformat(data["at"]))


@dataclass(frozen=True, slots=True)
class Choice:
    """One option as the respondent sees it: its number, code and label."""

    number: int
    code: str
    label: str


@dataclass(frozen=True, slots=True)
class AnswerRecorded:
    """An answer was accepted."""

    key: str
    value: str
    seq: int
    at: datetime


@dataclass(frozen=True, slots=True)
class InputRejected:
    """An input was not a valid answer to the current question; the question is asked again."""

    key: str
    input: str
    reason: RejectReason


@dataclass(frozen=True, slots=True)
class QuestionAsked:
    """The respondent must now see this question (with ``error`` first, after a rejection)."""

    key: str
    text: str
    choices: tuple[Choice, ...]
    error: str | None = None


@dataclass(frozen=True, slots=True)
class RunEnded:
    """The run is over; ``text`` is what the respondent sees last."""

    status: RunStatus
    ending: str
    text: str


Event = AnswerRecorded | InputRejected | QuestionAsked | RunEnded


@dataclass(frozen=True, slots=True)
class Step:
    """The result of one engine call: the new state and what happened."""

    state: RunState
    events: tuple[Event, ...]

    @property
    def screen(self) -> QuestionAsked | RunEnded:
        """What the respondent must see now: the last question asked or the ending."""
        for event in reversed(self.events):
            if isinstance(event, QuestionAsked | RunEnded):
                return event
        raise RunStateError("step shows nothing")  # every engine call ends with one of them
