"""Loading flows: the shipped survey, and broken flows each refused with a message that names
the file, the state and the problem."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from flows import Flow, FlowError, QuestionType, build_flow, check_flows, load_flow, load_flows

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "flows" / "surveys" / "return_intention.yaml"
SCHEMA = ROOT / "flows" / "flow.schema.json"

REGIONS = [
    "kayes",
    "koulikoro",
    "sikasso",
    "segou",
    "mopti",
    "tombouctou",
    "gao",
    "kidal",
    "menaka",
    "taoudenit",
    "bamako",
    "other",
]
NEEDS = [
    "food",
    "shelter",
    "nfi",
    "wash",
    "health",
    "education",
    "livelihood",
    "documents",
    "protection",
    "other",
]
REQUIRED_TEXTS = [
    "invalid",
    "invalid_number",
    "already_done",
    "resume",
    "resume_continue",
    "resume_restart",
    "more",
    "back",
]


# --- the shipped flow ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> Flow:
    return load_flow(SHIPPED)


def test_shipped_flow_questions_in_order(shipped: Flow) -> None:
    assert shipped.id == "return_intention"
    assert shipped.version == 1
    assert shipped.source == "return_intention.yaml"
    assert shipped.question_keys == (
        "consent",
        "current_region",
        "origin_region",
        "household_size",
        "intention",
        "timing",
        "obstacle",
        "need_1",
        "need_2",
    )


def test_shipped_flow_option_lists(shipped: Flow) -> None:
    def codes(key: str) -> list[str]:
        return [option.code for option in shipped.question(key).options]

    assert codes("current_region") == REGIONS
    assert codes("origin_region") == REGIONS
    assert codes("need_1") == NEEDS
    assert codes("need_2") == [*NEEDS, "none"]
    assert codes("consent") == ["yes", "no"]
    assert [o.end for o in shipped.question("consent").options] == [None, "declined"]


def test_shipped_flow_settings(shipped: Flow) -> None:
    size = shipped.question("household_size")
    assert (size.type, size.minimum, size.maximum) == (QuestionType.INTEGER, 1, 50)
    assert dict(shipped.languages) == {"fr": "Francais", "en": "English"}
    assert shipped.default_language == "fr"
    assert shipped.expiry == timedelta(hours=72)
    assert shipped.keywords == ("ENQUETE", "SONDAGE", "SURVEY")
    assert {k: e.status for k, e in shipped.endings.items()} == {
        "completed": "completed",
        "declined": "declined",
    }
    assert set(REQUIRED_TEXTS) <= set(shipped.texts)


def test_shipped_flows_have_no_problems() -> None:
    assert check_flows() == []
    assert set(load_flows()) == {
        "return_intention",
        "enumerator_registration",
        "flow_monitoring",
        "location_assessment",
    }


# --- the JSON Schema -------------------------------------------------------------------------


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))

    Draft202012Validator.check_schema(schema)


def test_shipped_flow_and_test_flow_validate_against_the_schema() -> None:
    validator = Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))

    validator.validate(yaml.safe_load(SHIPPED.read_text(encoding="utf-8")))
    validator.validate(valid_flow())
    assert list(validator.iter_errors({"id": "x"}))  # and it does refuse something


# --- broken flows ----------------------------------------------------------------------------


def texts(fr: str, en: str) -> dict[str, str]:
    return {"fr": fr, "en": en}


def valid_flow() -> dict[str, Any]:
    """A small flow using every feature: lists with ``add``, ``end``, conditions, all types."""
    return {
        "id": "mini",
        "version": 1,
        "name": texts("Mini", "Mini"),
        "languages": {"fr": "Francais", "en": "English"},
        "default_language": "fr",
        "lists": {
            "colours": [
                {"code": "red", "label": texts("Rouge", "Red")},
                {"code": "blue", "label": texts("Bleu", "Blue")},
            ]
        },
        "questions": [
            {
                "key": "consent",
                "type": "choice",
                "text": texts("D'accord?", "Agree?"),
                "options": [
                    {"code": "yes", "label": texts("Oui", "Yes")},
                    {"code": "no", "label": texts("Non", "No"), "end": "declined"},
                ],
            },
            {"key": "size", "type": "integer", "min": 1, "max": 50, "text": texts("N?", "N?")},
            {
                "key": "colour",
                "type": "choice",
                "text": texts("Couleur?", "Colour?"),
                "options": {"list": "colours", "add": [{"code": "none", "label": "-"}]},
                "when": {"size": {"min": 2}},
            },
            {
                "key": "comment",
                "type": "text",
                "min": 1,
                "max": 160,
                "text": "?",
                "when": {"any": [{"colour": {"in": ["red"]}}, {"size": {"max": 3}}]},
            },
        ],
        "endings": {
            "completed": {"status": "completed", "text": texts("Merci.", "Thanks.")},
            "declined": {"status": "declined", "text": texts("Au revoir.", "Bye.")},
        },
        "texts": {
            name: texts(f"{name} fr", f"{name} en")
            for name in [*REQUIRED_TEXTS, "reminder", "too_short", "too_long"]
        },
    }


Mutation = Callable[[dict[str, Any]], object]


def refused(mutate: Mutation) -> FlowError:
    raw = valid_flow()
    mutate(raw)
    with pytest.raises(FlowError) as caught:
        build_flow(raw, source="x.yaml")
    return caught.value


def question(raw: dict[str, Any], key: str) -> dict[str, Any]:
    found: dict[str, Any] = next(q for q in raw["questions"] if q["key"] == key)
    return found


def test_the_test_flow_is_valid() -> None:
    flow = build_flow(valid_flow(), source="x.yaml")

    assert flow.question_keys == ("consent", "size", "colour", "comment")
    assert [o.code for o in flow.question("colour").options] == ["red", "blue", "none"]


BROKEN: list[tuple[str, Mutation, str | None, list[str]]] = [
    # (id, mutation, state named, words the problem must contain)
    (
        "question-text-lacks-a-language",
        lambda r: question(r, "size").update(text={"fr": "N?"}),
        "size",
        ["text", "en"],
    ),
    (
        "option-label-lacks-a-language",
        lambda r: question(r, "consent")["options"][0].update(label={"fr": "Oui"}),
        "consent",
        ["label", "en"],
    ),
    (
        "list-label-lacks-a-language",
        lambda r: r["lists"]["colours"][1].update(label={"en": "Blue"}),
        "list 'colours'",
        ["label", "fr"],
    ),
    (
        "ending-text-lacks-a-language",
        lambda r: r["endings"]["declined"].update(text={"fr": "Au revoir."}),
        "ending 'declined'",
        ["en"],
    ),
    (
        "text-in-an-undeclared-language",
        lambda r: question(r, "size")["text"].update(bm="Joli?"),
        "size",
        ["bm"],
    ),
    (
        "default-language-not-declared",
        lambda r: r.update(default_language="bm"),
        None,
        ["default_language", "bm"],
    ),
    (
        "unknown-list",
        lambda r: question(r, "colour").update(options={"list": "colors"}),
        "colour",
        ["list", "'colors'"],
    ),
    (
        "option-ends-with-unknown-ending",
        lambda r: question(r, "consent")["options"][1].update(end="refused"),
        "consent",
        ["'no'", "'refused'"],
    ),
    (
        "condition-on-a-later-question",
        lambda r: question(r, "size").update(when={"colour": {"in": ["red"]}}),
        "size",
        ["'colour'", "earlier"],
    ),
    (
        "condition-on-an-unknown-question",
        lambda r: question(r, "colour").update(when={"age": {"min": 2}}),
        "colour",
        ["'age'"],
    ),
    (
        "condition-on-itself",
        lambda r: question(r, "colour").update(when={"colour": {"in": ["red"]}}),
        "colour",
        ["'colour'"],
    ),
    (
        "condition-names-a-code-the-question-lacks",
        lambda r: question(r, "comment").update(when={"colour": {"in": ["red", "green"]}}),
        "comment",
        ["'colour'", "green"],
    ),
    (
        "condition-in-any-names-a-code-the-question-lacks",
        lambda r: question(r, "comment").update(when={"any": [{"consent": {"equals": "maybe"}}]}),
        "comment",
        ["'consent'", "maybe"],
    ),
    (
        "min-condition-on-a-choice-question",
        lambda r: question(r, "comment").update(when={"colour": {"min": 1}}),
        "comment",
        ["min", "'colour'", "integer"],
    ),
    (
        "duplicate-question-keys",
        lambda r: question(r, "comment").update(key="size"),
        "size",
        ["two"],
    ),
    (
        "duplicate-option-codes",
        lambda r: question(r, "consent")["options"][1].update(code="yes"),
        "consent",
        ["yes"],
    ),
    (
        "duplicate-codes-in-a-list",
        lambda r: r["lists"]["colours"][1].update(code="red"),
        "list 'colours'",
        ["red"],
    ),
    (
        "added-option-repeats-a-list-code",
        lambda r: question(r, "colour")["options"]["add"][0].update(code="blue"),
        "colour",
        ["added option"],
    ),
    (
        "min-greater-than-max",
        lambda r: question(r, "size").update(min=10, max=5),
        "size",
        ["min 10", "max 5"],
    ),
    (
        "text-question-min-below-1",
        lambda r: question(r, "comment").update(min=0),
        "comment",
        ["min"],
    ),
    (
        "required-text-lacks-a-language",
        lambda r: r["texts"].update(invalid={"fr": "Non compris."}),
        None,
        ["'invalid'", "en"],
    ),
    # Schema violations: the message names the offending field.
    (
        "schema-unknown-question-field",
        lambda r: question(r, "size").update(colour="red"),
        "size",
        ["'colour'"],
    ),
    (
        "schema-unknown-top-level-field",
        lambda r: r.update(author="DNDS"),
        None,
        ["'author'"],
    ),
    (
        "schema-wrong-type-in-a-question",
        lambda r: question(r, "size").update(min="one"),
        "size",
        ["'min'", "integer"],
    ),
    (
        "schema-wrong-type-top-level",
        lambda r: r.update(version="1"),
        None,
        ["'version'", "integer"],
    ),
    (
        "schema-unknown-question-type",
        lambda r: question(r, "size").update(type="date"),
        "size",
        ["'type'", "date"],
    ),
    (
        "schema-missing-question-text",
        lambda r: question(r, "size").pop("text"),
        "size",
        ["'text'", "required"],
    ),
    (
        "schema-question-without-key",
        lambda r: question(r, "size").pop("key"),
        "question #2",
        ["'key'", "required"],
    ),
    (
        "schema-unknown-condition-operator",
        lambda r: question(r, "colour").update(when={"size": {"above": 2}}),
        "colour",
        ["when/size", "'above'"],
    ),
    (
        "schema-ending-with-unknown-status",
        lambda r: r["endings"]["declined"].update(status="expired"),
        None,
        ["endings/declined/status", "expired"],
    ),
    (
        "schema-no-completed-ending",
        lambda r: r["endings"].pop("completed"),
        None,
        ["'completed'"],
    ),
]


@pytest.mark.parametrize(
    ("mutate", "state", "words"),
    [case[1:] for case in BROKEN],
    ids=[case[0] for case in BROKEN],
)
def test_broken_flow_is_refused_naming_file_state_and_problem(
    mutate: Mutation, state: str | None, words: list[str]
) -> None:
    error = refused(mutate)

    assert (error.source, error.state) == ("x.yaml", state)
    for word in words:
        assert word in error.problem
    assert str(error).startswith("x.yaml")
    if state is not None:
        assert state in str(error)


@pytest.mark.parametrize("name", REQUIRED_TEXTS)
def test_missing_required_text_is_refused(name: str) -> None:
    error = refused(lambda r: r["texts"].pop(name))

    assert (error.source, error.state) == ("x.yaml", None)
    assert f"'{name}'" in error.problem


def test_reminders_need_a_reminder_text_unless_there_are_none() -> None:
    error = refused(lambda r: r["texts"].pop("reminder"))
    assert "'reminder' is missing (the flow sends reminders)" in error.problem

    raw = valid_flow()
    raw["texts"].pop("reminder")
    raw["reminders"] = {"count": 0}
    assert build_flow(raw, source="x.yaml").reminder_count == 0


@pytest.mark.parametrize("name", ["too_short", "too_long"])
def test_a_text_question_needs_its_own_error_texts(name: str) -> None:
    error = refused(lambda r: r["texts"].pop(name))
    assert f"'{name}' is missing (the flow has a question that needs it)" in error.problem

    raw = valid_flow()
    raw["texts"].pop(name)
    raw["questions"] = [q for q in raw["questions"] if q["type"] != "text"]
    assert name not in build_flow(raw, source="x.yaml").texts


def test_offering_sms_after_a_ussd_drop_needs_its_text() -> None:
    def offer(raw: dict[str, Any]) -> None:
        raw["offer_sms_after_ussd_drop"] = True

    error = refused(offer)
    assert "'continue_by_sms' is missing" in error.problem


def test_schema_options_on_an_integer_question_names_the_field() -> None:
    """The shipped household_size question, given options by mistake."""
    size = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))["questions"][3]
    assert size["key"] == "household_size"

    error = refused(
        lambda r: question(r, "size").update(
            text=size["text"], options=[{"code": "a", "label": "A"}]
        )
    )

    assert error.state == "size"
    assert "options" in error.problem


# --- files -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "line"),
    [
        ("id: mini\nversion: 1\nname: a: b\n", 3),
        ("id: mini\n\tversion: 1\n", 2),
        ("id: mini\nquestions:\n  - key: a\n    type: choice\n   text: b\n", 5),
    ],
    ids=["mapping-in-a-value", "tab", "bad-indent"],
)
def test_invalid_yaml_reports_the_line(tmp_path: Path, content: str, line: int) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(FlowError) as caught:
        load_flow(path)

    assert caught.value.source == "broken.yaml"
    assert f"line {line}" in caught.value.problem
    assert "YAML" in caught.value.problem


def test_unreadable_and_empty_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("", encoding="utf-8")

    with pytest.raises(FlowError, match=r"^missing\.yaml: cannot be read"):
        load_flow(tmp_path / "missing.yaml")
    with pytest.raises(FlowError, match=r"^empty\.yaml: .*object"):
        load_flow(tmp_path / "empty.yaml")


def test_load_flow_reads_a_valid_file(tmp_path: Path) -> None:
    path = tmp_path / "mini.yaml"
    path.write_text(yaml.safe_dump(valid_flow(), allow_unicode=True), encoding="utf-8")

    flow = load_flow(path)

    assert (flow.id, flow.source) == ("mini", "mini.yaml")
    assert set(load_flows(tmp_path)) - {"flow_monitoring", "location_assessment"} == {
        "return_intention",
        "enumerator_registration",
        "mini",
    }


def test_check_flows_collects_every_problem_in_a_folder(tmp_path: Path) -> None:
    def write(name: str, raw: Any) -> None:
        (tmp_path / name).write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")

    unknown_list = valid_flow()
    question(unknown_list, "colour")["options"] = {"list": "colors"}
    late_condition = valid_flow()
    question(late_condition, "size")["when"] = {"comment": {"equals": "x"}}
    write("a_good.yaml", valid_flow())
    write("b_unknown_list.yaml", unknown_list)
    write("c_late_condition.yml", late_condition)
    (tmp_path / "d_not_yaml.yaml").write_text("id: [mini\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("id: [not a flow\n", encoding="utf-8")

    problems = check_flows(tmp_path)

    assert sorted((p.source, p.state) for p in problems) == [
        ("b_unknown_list.yaml", "colour"),
        ("c_late_condition.yml", "size"),
        ("d_not_yaml.yaml", None),
    ]
    assert check_flows(tmp_path / "nothing-here") == []


def test_build_flow_leaves_the_document_unchanged() -> None:
    """build_flow must not change the document it is given (flows are data, shared freely)."""
    raw = valid_flow()
    before = copy.deepcopy(raw)

    build_flow(raw, source="x.yaml")

    assert raw == before
