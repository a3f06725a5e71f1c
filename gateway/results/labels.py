"""What people read instead of codes: a survey's name and its answers' labels, in a language.

Stored answers and exports keep the flow's codes (``tombouctou``), which stay stable while
texts are polished; staff pages and labelled exports show the flow's labels (``Tombouctou``,
``Timbuktu`` in English). A value with no label (a number, free text, a code a later version
of the flow dropped) is shown as stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flows.model import Flow, QuestionType, localise


@dataclass(frozen=True, slots=True)
class AnswerLabels:
    """The labels of one flow's answers in one language (the flow's default when it lacks it)."""

    flow: Flow
    language: str
    name: str
    questions: Mapping[str, str]
    options: Mapping[str, Mapping[str, str]]

    @classmethod
    def of(cls, flow: Flow, language: str | None) -> AnswerLabels:
        """The labels of ``flow`` in ``language``."""
        lang = flow.language_or_default(language)
        default = flow.default_language
        return cls(
            flow=flow,
            language=lang,
            name=localise(flow.name, lang, default),
            questions={q.key: localise(q.text, lang, default) for q in flow.questions},
            options={
                q.key: {o.code: localise(o.label, lang, default) for o in q.options}
                for q in flow.questions
            },
        )

    def label(self, key: str, value: str) -> str:
        """The label of answer ``value`` to question ``key``; the value itself when it has none."""
        return self.options.get(key, {}).get(value, value)

    def is_integer(self, key: str) -> bool:
        """Whether question ``key`` takes a whole number (stored as text)."""
        try:
            return self.flow.question(key).type == QuestionType.INTEGER
        except KeyError:
            return False


def flow_name(flows: Mapping[str, Flow], flow_id: str, language: str) -> str:
    """A flow's name in ``language``; the id of a flow no longer loaded."""
    flow = flows.get(flow_id)
    if flow is None:
        return flow_id
    return localise(flow.name, flow.language_or_default(language), flow.default_language)
