"""A flow's codebook: what each export column means, for people reading the data later.

One row per question (its key, type and text in every language of the flow), then one row
per option (its code, its label in every language and, for a region, its P-code). The XLSX
export carries it as a second sheet, so a file sent on keeps its meaning.
"""

from __future__ import annotations

from collections.abc import Iterator

from flows.model import Flow, localise
from gateway.results.pcodes import PCODE_SUFFIX, pcode, region_questions


def codebook_header(flow: Flow) -> list[str]:
    """The codebook's columns: texts and labels get one column per language of the flow."""
    languages = list(flow.languages)
    return [
        "question",
        "type",
        *(f"text_{lang}" for lang in languages),
        "option",
        *(f"label_{lang}" for lang in languages),
        "pcode",
    ]


def codebook_rows(flow: Flow) -> Iterator[list[str]]:
    """The codebook's rows, questions in flow order each followed by its options."""
    languages = list(flow.languages)
    regions = set(region_questions(flow))
    blank = [""] * len(languages)
    # A note has no answer: no column, so no line in the codebook either.
    for question in flow.answered:
        texts = [localise(question.text, lang, flow.default_language) for lang in languages]
        yield [question.key, str(question.type), *texts, "", *blank, ""]
        for option in question.options:
            labels = [localise(option.label, lang, flow.default_language) for lang in languages]
            code = pcode(option.code) if question.key in regions else ""
            yield [question.key, "", *blank, option.code, *labels, code]
        if question.key in regions:
            note = {"fr": "Code P (OCHA) de la région", "en": "OCHA P-code of the region"}
            texts = [note.get(lang, note["en"]) for lang in languages]
            yield [question.key + PCODE_SUFFIX, "pcode", *texts, "", *blank, ""]
