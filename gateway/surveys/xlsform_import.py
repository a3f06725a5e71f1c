"""An XLSForm (the survey, choices and settings sheets of KoBoToolbox and ODK) read into a flow.

pyxform, the XLSForm reference implementation, reads the workbook and validates it as ODK would;
this module maps what it read onto the flow model and refuses, with sheet, row and column, what
cannot run over SMS/USSD. Texts a flow needs and an XLSForm has no place for (endings, paging,
reminders) come from an optional ``gateway`` sheet, else from ``xlsform_defaults``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

from pyxform.errors import PyXFormError
from pyxform.xls2json import workbook_to_json
from pyxform.xls2json_backends import DefinitionData, get_xlsform

from flows import Flow, FlowError, build_flow
from gateway.surveys import xlsform_reports as reports
from gateway.surveys.xlsform_defaults import DEFAULT_TEXTS, default_ending, default_text
from gateway.surveys.xlsform_expressions import Unsupported, constraint_rules, relevant_condition
from gateway.surveys.xlsform_rules import (
    CHOICE_FILTER,
    GATEWAY_CHOICE_COLUMNS,
    LANGUAGE_COLUMN,
    MEDIA_COLUMN,
    NAME,
    NAME_RULE,
    REFUSED_COLUMNS,
    REFUSED_TYPES,
    SKIPPED_TYPES,
    Problem,
    XlsFormRefused,
    is_required,
    normalised_type,
    optional_note,
)
from gateway.surveys.xlsform_settings import GATEWAY_SHEET, gateway_settings, gateway_sheet

_TYPES = {
    "select_one": "choice",
    "select_multiple": "multi_choice",
    "integer": "integer",
    "decimal": "decimal",
    "text": "text",
    "note": "note",
}
# Bounds when a form sets none: what a keypad answer can hold.
INTEGER_BOUNDS = (0, 999_999_999)
TEXT_BOUNDS = (1, 160)


@dataclass
class XlsFormImport:
    """A form read into a flow: the flow document, the built flow, what was left out, and the
    spreadsheet row of each question (to point at the rows whose text is too long)."""

    document: dict[str, Any]
    flow: Flow
    notes: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)


def read_xlsform(source: bytes, *, name: str = "form.xlsx") -> XlsFormImport:
    """Read an XLSForm workbook; raise XlsFormRefused listing every problem found."""
    try:
        definition = get_xlsform(BytesIO(source), file_type=".xlsx")
    except PyXFormError as exc:
        raise XlsFormRefused(
            [Problem(name, None, None, f"not an XLSForm workbook: {exc}")]
        ) from None
    reader = _Reader(definition, gateway_sheet(source))
    document = reader.read()
    if reader.problems:
        raise XlsFormRefused(reader.problems)
    try:
        # pyxform's own checks, as ODK would run them (duplicate names, unknown lists...).
        workbook_to_json(definition, form_name="data", fallback_form_name="form", warnings=[])
    except PyXFormError as exc:
        raise XlsFormRefused([Problem("survey", None, None, str(exc))]) from None
    try:
        flow = build_flow(document, source=f"{document['id']}.yaml")
    except FlowError as exc:
        row = reader.rows.get(exc.state or "")
        raise XlsFormRefused([Problem("survey", row, None, exc.problem)]) from None
    return XlsFormImport(document, flow, reader.notes, reader.rows)


class _Reader:
    def __init__(self, definition: DefinitionData, gateway: list[dict[str, str]]) -> None:
        self.survey: Sequence[dict[str, str]] = definition.survey or []
        self.choices: Sequence[dict[str, str]] = definition.choices or []
        self.settings: dict[str, str] = dict((definition.settings or [{}])[0])
        self.gateway = {row.get("name", ""): row for row in gateway}
        self.problems: list[Problem] = []
        self.notes: list[str] = []
        self.rows: dict[str, int] = {}
        self.kinds: dict[str, str] = {}
        self.optional: list[tuple[int, str]] = []
        self.languages = self._languages(definition.survey_header or [{}])

    def refuse(self, sheet: str, row: int | None, column: str | None, why: str) -> None:
        self.problems.append(Problem(sheet, row, column, why))

    def _languages(self, header: Sequence[Mapping[str, Any]]) -> dict[str, str]:
        languages: dict[str, str] = {}
        for column in header[0] if header else {}:
            found = LANGUAGE_COLUMN.match(column)
            if found and found["kind"] == "label":
                languages[found["code"]] = found["name"]
            elif column == "label":
                self.refuse(
                    "survey",
                    1,
                    column,
                    "name the label's language, e.g."
                    " label::English (en): the gateway needs each language's code",
                )
        if not languages:
            self.refuse("survey", 1, None, "no label::Language (code) column")
        return languages

    def read(self) -> dict[str, Any]:
        default = self._default_language()
        questions = self._questions()
        title = self._texts(self.gateway.get("title", {}), "label") or {
            code: self.settings.get("form_title") or self.settings.get("form_id", "form")
            for code in self.languages
        }
        document: dict[str, Any] = {
            "id": self.settings.get("form_id", ""),
            "version": self._version(),
            "name": title,
            "languages": self.languages,
            "default_language": default,
        }
        document.update(gateway_settings(self.settings))
        subject, problems = reports.form_subject(self.settings)
        self.problems.extend(problems)
        document.update({"subject": subject} if subject is not None else {})
        document["questions"] = questions
        document["endings"] = self._endings(questions)
        document["texts"] = self._flow_texts(report=subject == "report")
        if not NAME.match(document["id"]):
            self.refuse("settings", 2, "form_id", f"'{document['id']}': {NAME_RULE}")
        return document

    def _default_language(self) -> str:
        raw = self.settings.get("default_language", "")
        found = LANGUAGE_COLUMN.match(f"label::{raw}") if raw else None
        if found and found["code"] in self.languages:
            return found["code"]
        if raw:
            self.refuse(
                "settings",
                2,
                "default_language",
                f"'{raw}' is not one of the label"
                " columns' languages, written as they are: Name (code)",
            )
        return next(iter(self.languages), "en")

    def _version(self) -> int:
        raw = self.settings.get("version", "1")
        if not raw.isdigit() or int(raw) < 1:
            self.refuse(
                "settings",
                2,
                "version",
                f"'{raw}': the version must be a whole number"
                " from 1, raised at each change (runs under way keep theirs)",
            )
            return 1
        return int(raw)

    def _texts(self, row: Mapping[str, str], kind: str) -> dict[str, str]:
        texts: dict[str, str] = {}
        for column, value in row.items():
            found = LANGUAGE_COLUMN.match(column)
            if found and found["kind"] == kind and found["code"] in self.languages:
                texts[found["code"]] = value
            elif column == kind:
                texts.update({code: value for code in self.languages})
        return texts

    # -- survey rows ----------------------------------------------------------------------

    def _questions(self) -> list[dict[str, Any]]:
        questions: list[dict[str, Any]] = []
        for index, row in enumerate(self.survey):
            number = index + 2  # the header is row 1
            if not row:
                continue
            kind, list_name = normalised_type(row.get("type", ""))
            question = self._question(number, row, kind, list_name)
            if question is not None:
                self.rows[question["key"]] = number
                self.kinds[question["key"]] = question["type"]
                questions.append(question)
                if kind != "note" and not is_required(row.get("required", "")):
                    self.optional.append((number, question["key"]))
        if self.optional:
            self.notes.append(optional_note(self.optional))
        return questions

    def _question(
        self, number: int, row: Mapping[str, str], kind: str, list_name: str | None
    ) -> dict[str, Any] | None:
        name = row.get("name", "")
        if kind in SKIPPED_TYPES:
            self.notes.append(
                f"survey row {number}: '{kind}' is recorded by ODK apps only; left out"
            )
            return None
        if kind in REFUSED_TYPES:
            self.refuse(
                "survey",
                number,
                "type",
                f"'{kind}' cannot run over SMS/USSD: {REFUSED_TYPES[kind]}",
            )
            return None
        if kind in ("begin_group", "end_group"):
            if row.get("relevant") or row.get("repeat_count"):
                self.refuse(
                    "survey",
                    number,
                    "relevant",
                    "a group with logic cannot run: put"
                    " the condition on each question of the group",
                )
            return None
        if kind.endswith("_or_other"):
            self.refuse(
                "survey",
                number,
                "type",
                "'or_other' adds a free text option that"
                " XLSForm stores as 'other'; add an 'other' choice and a text question",
            )
            return None
        if kind not in _TYPES:
            self.refuse(
                "survey",
                number,
                "type",
                f"'{kind or '(empty)'}' is not a type the gateway runs ({', '.join(_TYPES)})",
            )
            return None
        self._refused_columns(number, row)
        if not NAME.match(name):
            self.refuse("survey", number, "name", f"'{name}': {NAME_RULE}")
        question: dict[str, Any] = {"key": name, "type": _TYPES[kind]}
        text = self._texts(row, "label")
        missing = [code for code in self.languages if code not in text]
        if missing:
            self.refuse("survey", number, "label", f"no label in {', '.join(missing)}")
        question["text"] = text
        if row.get("hxl"):
            question["hxl"] = row["hxl"]
        if list_name is not None:
            question["options"] = self._options(number, list_name)
            self._choice_filter(number, row, question)
        self._bounds(number, row, question)
        error = self._texts(row, "constraint_message")
        if "check" in question:
            # The constraint's message is what a broken rule between answers says.
            self.problems += reports.check_errors(number, question["check"], error, self.languages)
        elif error and kind != "note":
            question["error"] = error
        if row.get("relevant"):
            try:
                question["when"] = relevant_condition(row["relevant"], self.kinds)
            except Unsupported as exc:
                self.refuse("survey", number, "relevant", str(exc))
        return question

    def _refused_columns(self, number: int, row: Mapping[str, str]) -> None:
        for column in row:
            if column in REFUSED_COLUMNS:
                self.refuse("survey", number, column, REFUSED_COLUMNS[column])
            elif MEDIA_COLUMN.match(column):
                self.refuse("survey", number, column, "a USSD screen or an SMS shows text only")

    def _bounds(self, number: int, row: Mapping[str, str], question: dict[str, Any]) -> None:
        kind = question["type"]
        constraint = row.get("constraint", "")
        if kind in ("choice", "multi_choice", "note"):
            if constraint:
                self.refuse(
                    "survey",
                    number,
                    "constraint",
                    "a constraint on a choice or a"
                    " note cannot run: the gateway checks numbers and text lengths",
                )
            return
        low, high = None, None
        if constraint:
            try:
                rules = constraint_rules(constraint, length=kind == "text")
            except Unsupported as exc:
                self.refuse("survey", number, "constraint", str(exc))
            else:
                low, high = rules.low, rules.high
                checks, problems = reports.check_rules(number, rules.checks, self.kinds)
                self.problems.extend(problems)
                if checks:
                    question["check"] = checks
        if kind == "integer":
            question["min"] = int(low) if low is not None else INTEGER_BOUNDS[0]
            question["max"] = int(high) if high is not None else INTEGER_BOUNDS[1]
        elif kind == "text":
            question["min"] = max(1, int(low)) if low is not None else TEXT_BOUNDS[0]
            question["max"] = int(high) if high is not None else TEXT_BOUNDS[1]
        else:
            for bound, value in (("min", low), ("max", high)):
                if value is not None:
                    question[bound] = int(value) if value.is_integer() else value

    def _options(self, number: int, list_name: str) -> list[dict[str, Any]]:
        options: list[dict[str, Any]] = []
        for index, row in enumerate(self.choices):
            if row.get("list_name") != list_name:
                continue
            code = row.get("name", "")
            if not NAME.match(code):
                self.refuse("choices", index + 2, "name", f"'{code}': {NAME_RULE}")
            option: dict[str, Any] = {"code": code, "label": self._texts(row, "label")}
            if row.get("end"):
                option["end"] = row["end"]
            if row.get("aliases"):
                option["aliases"] = [a.strip() for a in row["aliases"].split(",") if a.strip()]
            properties = {
                column: value
                for column, value in row.items()
                if column not in GATEWAY_CHOICE_COLUMNS
                and not LANGUAGE_COLUMN.match(column)
                and column != "label"
                and not MEDIA_COLUMN.match(column)
            }
            if properties:
                option["properties"] = properties
            options.append(option)
        if not options:
            self.refuse("survey", number, "type", f"the list '{list_name}' has no choices")
        return options

    def _choice_filter(self, number: int, row: Mapping[str, str], question: dict[str, Any]) -> None:
        raw = row.get("choice_filter")
        if not raw:
            return
        found = CHOICE_FILTER.match(raw)
        if found is None:
            self.refuse(
                "survey",
                number,
                "choice_filter",
                f"'{raw}': the gateway filters on"
                " one equality with an earlier answer, such as region=${region}",
            )
            return
        question["choice_filter"] = {"property": found["property"], "answer": found["q"]}

    # -- endings and texts ----------------------------------------------------------------

    def _endings(self, questions: list[dict[str, Any]]) -> dict[str, Any]:
        used = {"completed"} | {
            o["end"] for q in questions for o in q.get("options", []) if "end" in o
        }
        endings: dict[str, Any] = {}
        for key in sorted(used):
            given = self._texts(self.gateway.get(f"ending.{key}", {}), "label")
            texts = {code: given.get(code) or default_ending(key, code) for code in self.languages}
            status = "completed" if key == "completed" else "declined"
            endings[key] = {"status": status, "text": texts}
        return endings

    def _flow_texts(self, *, report: bool) -> dict[str, Any]:
        texts: dict[str, Any] = {}
        for name, row in self.gateway.items():
            if name.startswith("text."):
                texts[name[len("text.") :]] = self._texts(row, "label")
        untranslated = sorted(set(self.languages) - set(DEFAULT_TEXTS))
        for name in DEFAULT_TEXTS["en"]:
            if report and name in reports.RESPONDENT_TEXTS and name not in texts:
                continue
            texts.setdefault(name, {})
            for code in self.languages:
                if code not in texts[name]:
                    texts[name][code] = default_text(name, code)
                    if code in untranslated:
                        self.notes.append(
                            f"text '{name}' [{code}] is in English: translate it"
                            f" in the {GATEWAY_SHEET} sheet"
                        )
        return texts
