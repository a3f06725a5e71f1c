"""Load flow files (YAML), validate them, and build immutable ``Flow`` values.

Validation happens in two passes: the published JSON Schema (``flows/flow.schema.json``) checks
the shape, then the checks here follow references (lists, endings, conditions on earlier
answers) that a schema cannot see. Every problem names the file, the state and what is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from flows.engine import ERROR_FALLBACKS, REJECTIONS
from flows.errors import FlowError
from flows.loader_checks import NUMBER_TYPES, check_report, checks_of, choice_filter_of
from flows.model import (
    REQUIRED_TEXTS,
    Condition,
    Ending,
    Flow,
    Option,
    Question,
    QuestionType,
    Subject,
    Test,
    Texts,
)

CHOICE_TYPES = (QuestionType.CHOICE, QuestionType.MULTI_CHOICE)
SCHEMA_PATH = Path(__file__).with_name("flow.schema.json")
DEFAULT_FLOWS_DIR = Path(__file__).with_name("surveys")


@cache
def flow_schema() -> dict[str, Any]:
    """The published JSON Schema of a flow file."""
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


def load_flow(path: Path) -> Flow:
    """Read, validate and build one flow file; raise FlowError naming what is wrong."""
    name = path.name
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FlowError(name, None, f"cannot be read ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise FlowError(name, None, f"is not valid YAML{where}") from exc
    return build_flow(raw, source=name)


def load_flows(extra_dir: Path | None = None) -> dict[str, Flow]:
    """The shipped flows plus those in ``extra_dir``; a later file overrides the same id."""
    flows: dict[str, Flow] = {}
    for path in flow_files(extra_dir):
        flow = load_flow(path)
        flows[flow.id] = flow
    return flows


def check_flows(extra_dir: Path | None = None) -> list[FlowError]:
    """Every problem in every flow file, instead of stopping at the first."""
    problems: list[FlowError] = []
    for path in flow_files(extra_dir):
        try:
            load_flow(path)
        except FlowError as exc:
            problems.append(exc)
    return problems


def keyword_clashes(flows: Iterable[Flow]) -> list[str]:
    """One line per SMS keyword that two flows declare: the first flow found takes it, so the
    second's never starts (a warning: both flows still load)."""
    owners: dict[str, str] = {}
    lines: list[str] = []
    for flow in flows:
        for word in flow.keywords:
            first = owners.setdefault(word, flow.id)
            if first != flow.id:
                lines.append(f"{flow.source}: keyword {word} already starts flow '{first}'")
    return lines


def flow_files(extra_dir: Path | None) -> Iterable[Path]:
    """The flow files in the order they are loaded: the shipped ones, then ``extra_dir``'s."""
    yield from sorted(DEFAULT_FLOWS_DIR.glob("*.yaml"))
    if extra_dir is not None:
        yield from sorted([*extra_dir.glob("*.yaml"), *extra_dir.glob("*.yml")])


def build_flow(raw: Any, *, source: str = "<flow>") -> Flow:
    """Validate a parsed flow document and build the Flow; raise FlowError on the first problem."""
    _check_schema(raw, source)
    return _Builder(raw, source).build()


def _check_schema(raw: Any, source: str) -> None:
    validator = Draft202012Validator(flow_schema())
    errors = sorted(validator.iter_errors(raw), key=lambda e: list(map(str, e.absolute_path)))
    if not errors:
        return
    error = errors[0]
    path = list(error.absolute_path)
    state = None
    if len(path) >= 2 and path[0] == "questions" and isinstance(path[1], int):
        questions = raw.get("questions", [])
        item = questions[path[1]] if path[1] < len(questions) else None
        state = item.get("key") if isinstance(item, dict) else None
        state = state or f"question #{path[1] + 1}"
        path = path[2:]
    field = "/".join(str(p) for p in path)
    where = f"'{field}': " if field else ""
    raise FlowError(source, state, f"{where}{_schema_message(error)}")


def _schema_message(error: Any) -> str:
    if error.validator == "not" and isinstance(error.validator_value, dict):
        # The schema forbids fields per question type with "not: required": name the fields.
        fields = error.validator_value.get("required", [])
        if fields:
            names = ", ".join(f"'{f}'" for f in fields)
            return f"{names} is not allowed for this type of question"
    # jsonschema's messages quote whole sub-documents; keep them short enough to read.
    message = str(error.message)
    return message if len(message) <= 200 else message[:197] + "..."


def _error_texts_needed(questions: Iterable[Question]) -> list[str]:
    """The error texts the questions' types need beyond REQUIRED_TEXTS, in a stable order."""
    needed = {
        name
        for question in questions
        if question.error is None  # a question with its own error text needs none of the flow's
        for name in REJECTIONS.get(question.type, {}).values()
        if name not in ERROR_FALLBACKS
    }
    return sorted(needed - set(REQUIRED_TEXTS))


class _Builder:
    """Turns a schema-valid document into a Flow, checking cross-references as it goes."""

    def __init__(self, raw: dict[str, Any], source: str) -> None:
        self.raw = raw
        self.source = source
        self.languages: dict[str, str] = dict(raw["languages"])
        self.default_language: str = raw["default_language"]

    def fail(self, state: str | None, problem: str) -> FlowError:
        return FlowError(self.source, state, problem)

    def build(self) -> Flow:
        if self.default_language not in self.languages:
            raise self.fail(None, f"default_language '{self.default_language}' is not in languages")
        lists = {
            name: self.options(items, f"list '{name}'")
            for name, items in self.raw.get("lists", {}).items()
        }
        endings = {
            key: Ending(key, spec["status"], self.texts(spec["text"], f"ending '{key}'", "text"))
            for key, spec in self.raw["endings"].items()
        }
        questions: list[Question] = []
        for spec in self.raw["questions"]:
            question = self.question(spec, lists, endings, questions)
            if any(q.key == question.key for q in questions):
                raise self.fail(question.key, "this key is used by two questions")
            questions.append(question)
        texts = {
            name: self.texts(value, None, f"text '{name}'")
            for name, value in self.raw["texts"].items()
        }
        for name in REQUIRED_TEXTS:
            if name not in texts:
                raise self.fail(None, f"texts: '{name}' is missing (every flow needs it)")
        for name in _error_texts_needed(questions):
            if name not in texts:
                raise self.fail(
                    None, f"texts: '{name}' is missing (the flow has a question that needs it)"
                )
        reminders = self.raw.get("reminders", {}).get("count", 2)
        if reminders and "reminder" not in texts:
            raise self.fail(None, "texts: 'reminder' is missing (the flow sends reminders)")
        if self.raw.get("offer_sms_after_ussd_drop") and "continue_by_sms" not in texts:
            raise self.fail(
                None, "texts: 'continue_by_sms' is missing (offer_sms_after_ussd_drop is on)"
            )
        subject = Subject(self.raw.get("subject", Subject.RESPONDENT.value))
        if subject is Subject.REPORT:
            check_report(endings, texts, self.fail)
        return Flow(
            id=self.raw["id"],
            version=self.raw["version"],
            name=self.texts(self.raw["name"], None, "name"),
            languages=self.languages,
            default_language=self.default_language,
            expiry=timedelta(hours=self.raw.get("expiry_hours", 72)),
            keywords=tuple(k.upper() for k in self.raw.get("keywords", [])),
            questions=tuple(questions),
            endings=endings,
            texts=texts,
            source=self.source,
            reminder_count=self.raw.get("reminders", {}).get("count", 2),
            reminder_interval=timedelta(
                hours=self.raw.get("reminders", {}).get("interval_hours", 24)
            ),
            offer_sms_after_ussd_drop=self.raw.get("offer_sms_after_ussd_drop", False),
            subject=subject,
        )

    def texts(self, value: str | Mapping[str, str], state: str | None, what: str) -> Texts:
        if isinstance(value, str):
            return {language: value for language in self.languages}
        unknown = sorted(set(value) - set(self.languages))
        if unknown:
            raise self.fail(state, f"{what} has a language the flow does not declare: {unknown}")
        missing = sorted(set(self.languages) - set(value))
        if missing:
            raise self.fail(state, f"{what} has no text in {', '.join(missing)}")
        return dict(value)

    def options(self, items: list[dict[str, Any]], state: str) -> tuple[Option, ...]:
        options = tuple(
            Option(
                item["code"],
                self.texts(item["label"], state, f"label of option '{item['code']}'"),
                item.get("end"),
                tuple(item.get("aliases", [])),
                tuple(item.get("properties", {}).items()),
            )
            for item in items
        )
        codes = [o.code for o in options]
        duplicated = sorted({c for c in codes if codes.count(c) > 1})
        if duplicated:
            raise self.fail(state, f"option codes used twice: {', '.join(duplicated)}")
        return options

    def question(
        self,
        spec: dict[str, Any],
        lists: Mapping[str, tuple[Option, ...]],
        endings: Mapping[str, Ending],
        earlier: list[Question],
    ) -> Question:
        key: str = spec["key"]
        kind = QuestionType(spec["type"])
        options: tuple[Option, ...] = ()
        if kind in (QuestionType.CHOICE, QuestionType.MULTI_CHOICE):
            raw_options = spec["options"]
            if isinstance(raw_options, dict):
                list_name = raw_options["list"]
                if list_name not in lists:
                    raise self.fail(key, f"options use list '{list_name}', which is not defined")
                added = self.options(raw_options.get("add", []), key)
                options = lists[list_name] + added
                codes = [o.code for o in options]
                if len(set(codes)) != len(codes):
                    raise self.fail(key, "an added option repeats a code of the list")
            else:
                options = self.options(raw_options, key)
            for option in options:
                if option.end is not None and option.end not in endings:
                    raise self.fail(key, f"option '{option.code}' ends with unknown '{option.end}'")
        minimum, maximum = spec.get("min"), spec.get("max")
        if minimum is not None and maximum is not None and minimum > maximum:
            raise self.fail(key, f"min {minimum} is greater than max {maximum}")
        if kind is QuestionType.TEXT and (minimum is None or minimum < 1):
            raise self.fail(key, "a text question needs min of at least 1")
        when = self.condition(spec["when"], key, earlier) if "when" in spec else None
        choice_filter = choice_filter_of(spec, options, earlier, self.fail)
        error = self.texts(spec["error"], key, "error") if "error" in spec else None
        return Question(
            key=key,
            type=kind,
            text=self.texts(spec["text"], key, "text"),
            options=options,
            minimum=minimum,
            maximum=maximum,
            when=when,
            hxl=spec.get("hxl"),
            error=error,
            choice_filter=choice_filter,
            checks=checks_of(spec, earlier, self.texts, self.fail),
        )

    def condition(self, spec: dict[str, Any], key: str, earlier: list[Question]) -> Condition:
        known = {q.key: q for q in earlier}
        tests: list[Test] = []
        groups: list[Condition] = []
        negated: list[Condition] = []
        for name, test in spec.items():
            if name == "any":
                groups.extend(self.condition(item, key, earlier) for item in test)
                continue
            if name == "not":
                negated.append(self.condition(test, key, earlier))
                continue
            if name == "all":
                # Every one holds: none of them fails.
                failing = tuple(
                    Condition(none_of=(self.condition(item, key, earlier),)) for item in test
                )
                negated.append(Condition(any_of=failing))
                continue
            if name not in known:
                raise self.fail(key, f"condition uses '{name}', which is not an earlier question")
            ((op, operand),) = test.items()
            values = tuple(operand) if isinstance(operand, list) else (operand,)
            target = known[name]
            if target.type in CHOICE_TYPES and op in ("in", "not_in", "equals", "selected"):
                codes = {o.code for o in target.options}
                unknown = [v for v in values if v not in codes]
                if unknown:
                    raise self.fail(
                        key, f"condition on '{name}' names codes it does not have: {unknown}"
                    )
            if op in ("min", "max") and target.type not in NUMBER_TYPES:
                raise self.fail(
                    key, f"condition '{op}' on '{name}' needs an integer or decimal question"
                )
            if op == "selected" and target.type not in CHOICE_TYPES:
                raise self.fail(key, f"condition 'selected' on '{name}' needs a choice question")
            tests.append(Test(name, op, values))
        return Condition(all_of=tuple(tests), any_of=tuple(groups), none_of=tuple(negated))
