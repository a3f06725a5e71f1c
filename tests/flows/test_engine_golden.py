"""Golden cases: the shipped return_intention flow, a list of inputs, the expected events.

Each file in ``tests/golden/`` is one respondent's run, written by hand from the flow file (never
generated from the engine's output). The engine runs with a clock that starts at ``T0`` and
moves one minute per input, and a fixed run id, so the same file always gives the same events.

An input is a string answer, or one of the special words ``<back>`` and ``<lang:xx>``. Events
are compared in a plain form:

    {asked: key, error: text or null}     {recorded: key, value: code, seq: n}
    {rejected: key, reason: reason}       {ended: ending}

What that form leaves out is checked here against the flow file itself, read as plain YAML: the
question text, numbered choices and ending text the respondent sees, in the run's language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from flows import (
    AnswerRecorded,
    Choice,
    Event,
    Flow,
    InputRejected,
    QuestionAsked,
    RunEnded,
    RunState,
    RunStatus,
    Step,
    back,
    load_flow,
    resume,
    start,
    switch_language,
)

ROOT = Path(__file__).resolve().parents[2]
FLOW_PATH = ROOT / "flows" / "surveys" / "return_intention.yaml"
GOLDEN_DIR = Path(__file__).resolve().with_name("golden")
GOLDEN_FILES = sorted(GOLDEN_DIR.glob("*.yaml"))

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
RUN_ID = "golden-run-0001"
CASE_FIELDS = {"name", "language", "inputs", "events", "final_answers"}
BACK = "<back>"
SWITCH = re.compile(r"<lang:([a-z]{2,3})>")

# The scenarios the suite must keep covering; a golden file deleted by mistake fails here.
REQUIRED_CASES = {
    "fr_return",
    "fr_stay",
    "fr_relocate",
    "fr_undecided",
    "consent_declined",
    "word_answers",
    "invalid_inputs",
    "back_return_to_stay",
    "english",
}


@dataclass(frozen=True)
class Case:
    name: str
    language: str | None
    inputs: list[str]
    events: list[dict[str, Any]]
    final_answers: dict[str, str]


@dataclass(frozen=True)
class Move:
    """One engine call of a run: the input given (None for the start), when, and the result."""

    input: str | None
    now: datetime
    step: Step


def read_case(path: Path) -> Case:
    """A golden file, checked for the slips YAML invites (``yes`` and ``6`` are not strings)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and set(data) == CASE_FIELDS, f"{path.name}: fields {CASE_FIELDS}"
    inputs, answers = data["inputs"], data["final_answers"]
    assert all(isinstance(text, str) for text in inputs), f"{path.name}: quote every input"
    assert all(isinstance(v, str) for v in answers.values()), f"{path.name}: quote answer codes"
    for event in data["events"]:
        value = event.get("value", "")
        assert isinstance(value, str), f"{path.name}: quote the value in {event}"
    return Case(data["name"], data["language"], inputs, data["events"], answers)


def play(flow: Flow, case: Case) -> list[Move]:
    """Run a case through the engine: the start, then one engine call per input."""
    moves = [Move(None, T0, start(flow, run_id=RUN_ID, language=case.language, now=T0))]
    for minute, text in enumerate(case.inputs, start=1):
        state, now = moves[-1].step.state, T0 + timedelta(minutes=minute)
        switch = SWITCH.fullmatch(text)
        if text == BACK:
            step = back(flow, state, now=now)
        elif switch:
            step = switch_language(flow, state, switch[1], now=now)
        elif text.startswith("<") and text.endswith(">"):
            raise ValueError(f"unknown special input {text!r} (a typo would be sent as an answer)")
        else:
            step = resume(flow, state, text, now=now)
        moves.append(Move(text, now, step))
    return moves


def plain(event: Event) -> dict[str, Any]:
    """An event in the golden files' plain form."""
    if isinstance(event, QuestionAsked):
        return {"asked": event.key, "error": event.error}
    if isinstance(event, AnswerRecorded):
        return {"recorded": event.key, "value": event.value, "seq": event.seq}
    if isinstance(event, InputRejected):
        return {"rejected": event.key, "reason": event.reason.value}
    return {"ended": event.ending}


def final_answers(state: RunState) -> dict[str, str]:
    return {key: answer.value for key, answer in state.answers.items()}


@pytest.fixture(scope="module")
def flow() -> Flow:
    return load_flow(FLOW_PATH)


@pytest.fixture(scope="module")
def flow_file() -> dict[str, Any]:
    """The flow file as plain YAML: an oracle for texts that does not go through the loader."""
    data: dict[str, Any] = yaml.safe_load(FLOW_PATH.read_text(encoding="utf-8"))
    return data


@pytest.fixture(params=GOLDEN_FILES, ids=[path.stem for path in GOLDEN_FILES])
def case(request: pytest.FixtureRequest) -> Case:
    path: Path = request.param
    return read_case(path)


def test_golden_cases_cover_the_required_scenarios() -> None:
    stems = {path.stem for path in GOLDEN_FILES}
    assert REQUIRED_CASES <= stems, f"missing golden cases: {sorted(REQUIRED_CASES - stems)}"
    names = [read_case(path).name for path in GOLDEN_FILES]
    assert len(set(names)) == len(names), "two golden cases share a name"


def test_golden_events(flow: Flow, case: Case) -> None:
    moves = play(flow, case)

    events = [plain(event) for move in moves for event in move.step.events]

    assert events == case.events
    assert final_answers(moves[-1].step.state) == case.final_answers


def test_golden_invariants_hold_after_every_step(flow: Flow, case: Case) -> None:
    """``answers`` holds exactly the questions on the path before the current one."""
    for move in play(flow, case):
        state = move.step.state
        where = f"after input {move.input!r}"
        assert set(state.answers) == set(state.path) - {state.current}, where
        assert state.path == tuple(k for k in flow.question_keys if k in state.path), where
        if state.is_active:
            assert state.path[-1] == state.current, where
        else:
            assert state.current is None, where
        seqs = [answer.seq for answer in state.answers.values()]
        assert len(set(seqs)) == len(seqs) and all(0 < s <= state.seq for s in seqs), where
        assert (state.run_id, state.started_at) == (RUN_ID, T0), where


def test_golden_event_details(flow: Flow, case: Case) -> None:
    """What the plain form leaves out: the input rejected, when answers were recorded."""
    for move in play(flow, case):
        for event in move.step.events:
            if isinstance(event, InputRejected):
                assert event.input == move.input
            if isinstance(event, AnswerRecorded):
                assert event.at == move.now
                assert move.step.state.answers[event.key].at == move.now


def test_golden_screens_are_in_the_run_language(
    flow: Flow, flow_file: dict[str, Any], case: Case
) -> None:
    """Every question and ending shown is the flow file's text in the expected language."""
    language = expected_language(flow_file, case.language)
    for move in play(flow, case):
        switch = SWITCH.fullmatch(move.input or "")
        if switch:
            language = expected_language(flow_file, switch[1])
        assert move.step.state.language == language
        for event in move.step.events:
            if isinstance(event, QuestionAsked):
                question = next(q for q in flow_file["questions"] if q["key"] == event.key)
                assert event.text == in_language(question["text"], language)
                assert event.choices == file_choices(flow_file, question, language)
            if isinstance(event, RunEnded):
                ending = flow_file["endings"][event.ending]
                assert event.text == in_language(ending["text"], language)
                assert event.status is RunStatus(ending["status"])
                assert move.step.state.status is event.status


def expected_language(flow_file: Mapping[str, Any], wanted: str | None) -> str:
    if wanted is not None and wanted in flow_file["languages"]:
        return wanted
    return str(flow_file["default_language"])


def in_language(texts: str | Mapping[str, str], language: str) -> str:
    return texts if isinstance(texts, str) else texts[language]


def file_choices(
    flow_file: Mapping[str, Any], question: Mapping[str, Any], language: str
) -> tuple[Choice, ...]:
    options = question.get("options", [])
    if isinstance(options, dict):
        options = flow_file["lists"][options["list"]] + options.get("add", [])
    return tuple(
        Choice(number, option["code"], in_language(option["label"], language))
        for number, option in enumerate(options, start=1)
    )


def test_special_input_typos_are_refused(flow: Flow) -> None:
    """The harness itself: a misspelt ``<back>`` must not silently become an answer."""
    case = Case("typo", None, ["<bak>"], [], {})
    with pytest.raises(ValueError, match="<bak>"):
        play(flow, case)
