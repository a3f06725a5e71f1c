"""A flow definition: immutable data, loaded once, shared by every run.

A flow is an ordered list of questions. The next question is the next one in order whose
``when`` condition holds on the answers so far; an option may end the run early
(``end: declined``). After the last question the run ends with the ``completed`` ending.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

# Texts every flow carries, in every language it declares: the engine and the channels use them.
# "confirmation" (the SMS after a completed run) is optional: a flow without it sends none.
REQUIRED_TEXTS = (
    "invalid",
    "invalid_number",
    "already_done",
    "resume",
    "resume_continue",
    "resume_restart",
    "more",
    "back",
)

Texts = Mapping[str, str]
"""One text in each of the flow's languages, keyed by language code."""


class QuestionType(StrEnum):
    """What kind of answer a question waits for."""

    CHOICE = "choice"
    INTEGER = "integer"
    TEXT = "text"
    # Several options, typed as their numbers separated by spaces ("1 3"); stored as their codes
    # separated by spaces, as XLSForm's select_multiple stores them.
    MULTI_CHOICE = "multi_choice"
    DECIMAL = "decimal"
    # A screen with no answer: its text is shown above the next question (or the ending).
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class Option:
    """One numbered answer of a choice question; ``code`` is what is stored and exported."""

    code: str
    label: Texts
    end: str | None = None
    aliases: tuple[str, ...] = ()
    # Named values a choice filter compares with an earlier answer (an XLSForm choices column,
    # e.g. the region a site is in).
    properties: tuple[tuple[str, str], ...] = ()

    def property(self, name: str) -> str | None:
        """The option's value of property ``name``, if it has one."""
        return next((value for key, value in self.properties if key == name), None)


@dataclass(frozen=True, slots=True)
class Test:
    """One test on an earlier answer: ``key`` compared by ``op`` with ``values``."""

    key: str
    op: str
    values: tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Condition:
    """Holds when every test in ``all_of`` passes and, if ``any_of`` is set, one of those holds."""

    all_of: tuple[Test, ...] = ()
    any_of: tuple[Condition, ...] = ()
    # Every one of these must fail (XLSForm's not(...)).
    none_of: tuple[Condition, ...] = ()


class Subject(StrEnum):
    """Who a flow's answers are about, and so who may start it."""

    # A respondent about their household: anyone may answer, after consenting.
    RESPONDENT = "respondent"
    # An approved enumerator about a place: no consent, no respondent, a reference per report.
    REPORT = "report"


class CheckOp(StrEnum):
    """How a number compares with an earlier answer."""

    NOT_ABOVE = "not_above"
    NOT_BELOW = "not_below"


@dataclass(frozen=True, slots=True)
class Check:
    """A rule between a number and the answer to an earlier question, with its error text
    (``{limit}`` in it is the earlier answer)."""

    op: CheckOp
    key: str
    error: Texts


@dataclass(frozen=True, slots=True)
class ChoiceFilter:
    """Offer only the options whose ``property`` equals the answer to question ``answer``."""

    property: str
    answer: str


@dataclass(frozen=True, slots=True)
class Question:
    """A question the run waits on."""

    key: str
    type: QuestionType
    text: Texts
    options: tuple[Option, ...] = ()
    # Bounds of a number (integer or decimal), or of a text's length.
    minimum: float | None = None
    maximum: float | None = None
    when: Condition | None = None
    # The HXL hashtag of the question's export column (e.g. "#adm1+origin+code"); None means
    # the exports use "#indicator+<key>".
    hxl: str | None = None
    # This question's own text after an answer it refuses, instead of the flow's.
    error: Texts | None = None
    choice_filter: ChoiceFilter | None = None
    checks: tuple[Check, ...] = ()


@dataclass(frozen=True, slots=True)
class Ending:
    """How a run ends: the status it gets and the text the respondent sees."""

    key: str
    status: str
    text: Texts


@dataclass(frozen=True, slots=True)
class Flow:
    """A validated survey definition."""

    id: str
    version: int
    name: Texts
    languages: Mapping[str, str]
    default_language: str
    expiry: timedelta
    keywords: tuple[str, ...]
    questions: tuple[Question, ...]
    endings: Mapping[str, Ending]
    texts: Mapping[str, Texts]
    source: str = ""
    reminder_count: int = 2
    reminder_interval: timedelta = timedelta(hours=24)
    offer_sms_after_ussd_drop: bool = False
    subject: Subject = Subject.RESPONDENT

    @property
    def is_report(self) -> bool:
        """Whether runs of this flow are an enumerator's reports about a place."""
        return self.subject is Subject.REPORT

    @property
    def question_keys(self) -> tuple[str, ...]:
        """Question keys in flow order, notes included."""
        return tuple(q.key for q in self.questions)

    @property
    def answered(self) -> tuple[Question, ...]:
        """The questions that take an answer (all but notes), in flow order."""
        return tuple(q for q in self.questions if q.type is not QuestionType.NOTE)

    @property
    def answer_keys(self) -> tuple[str, ...]:
        """The keys of the questions that take an answer: the exports' answer columns."""
        return tuple(q.key for q in self.answered)

    def question(self, key: str) -> Question:
        """The question with this key; KeyError if there is none."""
        for question in self.questions:
            if question.key == key:
                return question
        raise KeyError(key)

    def text(self, name: str, language: str, **values: object) -> str:
        """A flow text in ``language`` (default language when missing), filled with values."""
        texts = self.texts[name]
        template = texts.get(language) or texts[self.default_language]
        return template.format(**values) if values else template

    def has_text(self, name: str) -> bool:
        """Whether the flow carries the text ``name``."""
        return name in self.texts

    def language_or_default(self, language: str | None) -> str:
        """``language`` when this flow has it, else the flow's default."""
        if language is not None and language in self.languages:
            return language
        return self.default_language


def localise(texts: Texts, language: str, default_language: str) -> str:
    """Pick one language out of a text mapping, falling back to the default language."""
    return texts.get(language) or texts[default_language]
