"""The survey engine: flow definitions and a pure state machine over them.

Nothing in this package does I/O beyond reading flow files: no web, Redis, queue, SQL or SMS.
"""

from __future__ import annotations

from flows.engine import back, resume, show, start, switch_language
from flows.errors import FlowError, RunStateError
from flows.loader import build_flow, check_flows, load_flow, load_flows
from flows.model import Flow, Option, Question, QuestionType
from flows.run import (
    Answer,
    AnswerRecorded,
    Choice,
    Event,
    InputRejected,
    QuestionAsked,
    RejectReason,
    RunEnded,
    RunState,
    RunStatus,
    Step,
)

__all__ = [
    "Answer",
    "AnswerRecorded",
    "Choice",
    "Event",
    "Flow",
    "FlowError",
    "InputRejected",
    "Option",
    "Question",
    "QuestionAsked",
    "QuestionType",
    "RejectReason",
    "RunEnded",
    "RunState",
    "RunStateError",
    "RunStatus",
    "Step",
    "back",
    "build_flow",
    "check_flows",
    "load_flow",
    "load_flows",
    "resume",
    "show",
    "start",
    "switch_language",
]
