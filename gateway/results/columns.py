"""The columns of an export: the fixed ones, then the answers, as codes or as labels.

Every format (CSV, HXL, XLSX) writes the columns of one ``ExportLayout``. A flow's layout
(:func:`flow_layout`) puts a ``<key>_pcode`` column after each region question (see
``gateway.results.pcodes``) and, in the labelled variant, writes each answer's label in one
language instead of its code. A layout of bare keys (:func:`plain_layout`) writes the codes of
exactly those keys, for flows no longer loaded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from flows.model import Flow
from gateway.results.labels import AnswerLabels
from gateway.results.pcodes import PCODE_SUFFIX, pcode, region_questions

EXPORT_COLUMNS: tuple[str, ...] = (
    "submission_id",
    "respondent",
    "flow",
    "flow_version",
    "channel",
    "enumerator",
    "language",
    "status",
    # The campaign whose invitation led to the run, and which of its waves (empty when the
    # household came by itself).
    "campaign",
    "wave",
    "started_at",
    "completed_at",
)

# HXL 1.1 hashtags of the fixed columns (hxlstandard.org). Question columns take the flow's
# ``hxl`` or ``#indicator+<key>``.
META_HXL: dict[str, str] = {
    "submission_id": "#meta+id",
    "respondent": "#meta+respondent",
    "flow": "#meta+survey",
    "flow_version": "#meta+survey+version",
    "channel": "#meta+channel",
    "enumerator": "#meta+enumerator",
    "language": "#meta+lang",
    "status": "#status",
    "campaign": "#meta+campaign",
    "wave": "#meta+wave",
    "started_at": "#date+start",
    "completed_at": "#date+end",
}
_HXL_ATTRIBUTE = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True, slots=True)
class ExportLayout:
    """Which answers an export reads (``keys``) and the columns it writes for them."""

    keys: tuple[str, ...]
    columns: tuple[str, ...]
    hashtags: tuple[str, ...]
    labels: AnswerLabels | None = None
    regions: frozenset[str] = frozenset()

    @property
    def header(self) -> tuple[str, ...]:
        """Every column's name, the fixed ones first."""
        return (*EXPORT_COLUMNS, *self.columns)

    @property
    def header_hashtags(self) -> tuple[str, ...]:
        """Every column's HXL hashtag, in the order of ``header``."""
        return (*(META_HXL[column] for column in EXPORT_COLUMNS), *self.hashtags)

    @property
    def pcode_columns(self) -> frozenset[int]:
        """The positions, among the answer columns, of the P-code columns."""
        return frozenset(i for i, name in enumerate(self.columns) if name.endswith(PCODE_SUFFIX))

    def answer_cells(self, answers: Mapping[str, str]) -> list[str]:
        """The answer columns of one submission, as plain text (empty for no answer)."""
        cells = []
        for key in self.keys:
            value = answers.get(key) or ""
            shown = self.labels.label(key, value) if self.labels is not None and value else value
            cells.append(shown)
            if key in self.regions:
                cells.append(pcode(value) if value else "")
        return cells


def default_hashtag(key: str) -> str:
    """``#indicator+<key>``; an HXL attribute starts with a letter, a key may not."""
    return "#indicator+" + (key if _HXL_ATTRIBUTE.fullmatch(key) else f"q_{key}")


def plain_layout(keys: Sequence[str], hashtags: Mapping[str, str] | None = None) -> ExportLayout:
    """One column of codes per key, tagged from ``hashtags`` or ``#indicator+<key>``."""
    tags = hashtags or {}
    return ExportLayout(
        keys=tuple(keys),
        columns=tuple(keys),
        hashtags=tuple(tags.get(key) or default_hashtag(key) for key in keys),
    )


def flow_layout(flow: Flow, labels: str | None = None) -> ExportLayout:
    """The flow's questions in flow order, a P-code after each region; labels in ``labels``.

    In HXL the P-code column takes the ``+code`` attribute, which by convention holds
    P-codes (``#adm1+current+code``); the region column itself is ``+name`` when it holds
    labels and bare (``#adm1+current``) when it holds the gateway's own codes.
    """
    regions = frozenset(region_questions(flow))
    columns: list[str] = []
    hashtags: list[str] = []
    for question in flow.answered:
        tag = question.hxl or default_hashtag(question.key)
        columns.append(question.key)
        if question.key not in regions:
            hashtags.append(tag)
            continue
        bare = "+".join(part for part in tag.split("+") if part != "code")
        hashtags.append(bare + "+name" if labels else bare)
        columns.append(question.key + PCODE_SUFFIX)
        hashtags.append(bare + "+code")
    return ExportLayout(
        keys=flow.answer_keys,
        columns=tuple(columns),
        hashtags=tuple(hashtags),
        labels=AnswerLabels.of(flow, labels) if labels else None,
        regions=regions,
    )
