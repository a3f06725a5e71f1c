"""Report flows: an enumerator's answers about a place (``subject: report``), and the checks
between answers that a flow file declares, as the engine applies them."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from flows import (
    Flow,
    FlowError,
    InputRejected,
    QuestionAsked,
    RejectReason,
    RunEnded,
    back,
    build_flow,
    check_flows,
    load_flows,
    resume,
    start,
)
from flows.loader import keyword_clashes
from flows.model import REQUIRED_TEXTS
from flows.sms_check import sms_overruns

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
REPORTS = ("flow_monitoring", "location_assessment")


@pytest.fixture(scope="module")
def shipped() -> dict[str, Flow]:
    return load_flows()


def answered(flow: Flow, answers: list[str], language: str = "fr") -> Any:
    step = start(flow, run_id="r-1", language=language, now=NOW)
    for answer in answers:
        step = resume(flow, step.state, answer, now=NOW)
    return step


@pytest.mark.parametrize("flow_id", REPORTS)
def test_the_report_flows_are_reports_in_french_and_english_within_one_sms(
    shipped: dict[str, Flow], flow_id: str
) -> None:
    flow = shipped[flow_id]
    assert flow.is_report
    assert set(flow.languages) == {"fr", "en"}
    assert sms_overruns(flow) == []
    # No consent: the first question is already about the place.
    assert flow.questions[0].key in ("point", "site_type")
    assert set(flow.endings) == {"completed"}
    assert not shipped["return_intention"].is_report


def test_flow_monitoring_keys_and_codes(shipped: dict[str, Flow]) -> None:
    flow = shipped["flow_monitoring"]
    assert flow.keywords == ("FMP",)
    assert flow.question_keys == (
        "point",
        "direction",
        "individuals",
        "households",
        "origin_region",
        "destination_region",
        "reason",
        "vulnerable",
    )
    assert [o.code for o in flow.question("point").options] == [
        "bamako",
        "mopti",
        "gao",
        "tombouctou",
        "other",
    ]
    assert [o.code for o in flow.question("direction").options] == ["in", "out"]
    assert [o.code for o in flow.question("reason").options] == [
        "conflict",
        "return",
        "economic",
        "family",
        "services",
        "other",
    ]
    regions = [o.code for o in shipped["return_intention"].question("current_region").options]
    assert [o.code for o in flow.question("destination_region").options] == regions


def test_location_assessment_keys_and_codes(shipped: dict[str, Flow]) -> None:
    flow = shipped["location_assessment"]
    assert flow.keywords == ("SITE",)
    assert flow.question_keys == (
        "site_type",
        "region",
        "site_name",
        "idp_households",
        "idp_individuals",
        "returnee_individuals",
        "need_1",
        "need_2",
        "access",
    )
    assert [o.code for o in flow.question("site_type").options] == ["camp", "host", "return_area"]
    assert [o.code for o in flow.question("access").options] == ["yes", "partial", "no"]
    assert flow.question("need_2").options[-1].code == "none"
    assert flow.question("idp_individuals").hxl == "#affected+idps+ind"


# -- checks between answers ---------------------------------------------------------------

# point Gao, arrivals, 12 people, 3 households, from Mopti to Gao, conflict
BEFORE_VULNERABLE = ["3", "1", "12", "3", "5", "7", "1"]


@pytest.mark.parametrize(
    ("language", "error"),
    [
        ("fr", "Pas plus que le nombre de personnes (12)."),
        ("en", "Not more than the number of people (12)."),
    ],
)
def test_more_vulnerable_people_than_people_is_asked_again_with_the_rule(
    shipped: dict[str, Flow], language: str, error: str
) -> None:
    flow = shipped["flow_monitoring"]
    step = answered(flow, BEFORE_VULNERABLE, language)

    again = resume(flow, step.state, "13", now=NOW)

    rejected, asked = again.events
    assert isinstance(rejected, InputRejected)
    assert rejected.reason is RejectReason.CHECK_FAILED
    assert isinstance(asked, QuestionAsked) and asked.key == "vulnerable"
    assert asked.error == error
    assert "vulnerable" not in again.state.answers
    done = resume(flow, again.state, "12", now=NOW)
    assert isinstance(done.screen, RunEnded) and done.screen.ending == "completed"
    assert done.state.answers["vulnerable"].value == "12"


def test_fewer_displaced_people_than_displaced_households_is_asked_again(
    shipped: dict[str, Flow],
) -> None:
    flow = shipped["location_assessment"]
    step = answered(flow, ["1", "7", "Site de Sossokoira", "40"])

    again = resume(flow, step.state, "39", now=NOW)

    assert isinstance(again.screen, QuestionAsked)
    assert again.screen.key == "idp_individuals"
    assert again.screen.error == "Pas moins que le nombre de ménages (40)."
    # An out-of-range number still gets the range error, not the rule's.
    wild = resume(flow, again.state, "100001", now=NOW)
    assert isinstance(wild.screen, QuestionAsked)
    assert wild.screen.error == "Envoyez un nombre de 0 à 100000."
    kept = resume(flow, wild.state, "40", now=NOW)
    assert isinstance(kept.screen, QuestionAsked) and kept.screen.key == "returnee_individuals"


def test_going_back_to_the_earlier_answer_applies_the_rule_to_the_new_one(
    shipped: dict[str, Flow],
) -> None:
    flow = shipped["location_assessment"]
    step = answered(flow, ["1", "7", "Ber", "10"])
    step = back(flow, step.state, now=NOW)
    step = resume(flow, step.state, "50", now=NOW)  # households now 50
    step = resume(flow, step.state, "45", now=NOW)
    assert isinstance(step.screen, QuestionAsked)
    assert step.screen.error == "Pas moins que le nombre de ménages (50)."


# -- what the loader refuses --------------------------------------------------------------


def report_flow() -> dict[str, Any]:
    texts = {name: name for name in REQUIRED_TEXTS}
    return {
        "id": "mini_report",
        "version": 1,
        "subject": "report",
        "name": "Mini",
        "languages": {"fr": "Francais"},
        "default_language": "fr",
        "reminders": {"count": 0},
        "questions": [
            {"key": "people", "type": "integer", "min": 0, "max": 9, "text": "Personnes?"},
            {
                "key": "children",
                "type": "integer",
                "min": 0,
                "max": 9,
                "text": "Enfants?",
                "check": [{"not_above": "people", "error": "Pas plus de {limit}."}],
            },
        ],
        "endings": {"completed": {"status": "completed", "text": "Merci, ref {ref}."}},
        "texts": texts,
    }


def test_a_minimal_report_flow_loads() -> None:
    flow = build_flow(report_flow(), source="mini.yaml")
    assert flow.is_report
    assert [c.key for c in flow.question("children").checks] == ["people"]


def refused(raw: dict[str, Any]) -> str:
    with pytest.raises(FlowError) as caught:
        build_flow(raw, source="mini.yaml")
    return str(caught.value)


def test_a_report_cannot_have_a_consent_to_decline() -> None:
    raw = report_flow()
    raw["endings"]["declined"] = {"status": "declined", "text": "Non."}
    assert "a report has no consent to decline" in refused(raw)


def test_a_report_ending_must_show_the_reference() -> None:
    raw = report_flow()
    raw["endings"]["completed"]["text"] = "Merci."
    assert refused(raw) == "mini.yaml: ending 'completed' [fr] must show the report's {ref}"


def test_a_subject_the_schema_does_not_know_is_refused() -> None:
    raw = report_flow()
    raw["subject"] = "household"
    assert "'subject'" in refused(raw)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            {"not_above": "later"},
            "state 'children': check 'not_above' uses 'later', which is not an earlier question",
        ),
        ({"not_below": "children"}, "which is not an earlier question"),
    ],
)
def test_a_check_must_name_an_earlier_question(change: dict[str, str], problem: str) -> None:
    raw = report_flow()
    rule = {**change, "error": "Non."}
    raw["questions"][1]["check"] = [rule]
    assert problem in refused(raw)


def test_a_check_compares_numbers_only() -> None:
    raw = copy.deepcopy(report_flow())
    raw["questions"][0] = {"key": "people", "type": "text", "min": 1, "max": 9, "text": "Nom?"}
    raw["texts"].update(too_short="court", too_long="long")
    assert "needs an integer or decimal question" in refused(raw)
    raw["questions"][1] = {
        "key": "children",
        "type": "text",
        "min": 1,
        "max": 9,
        "text": "Nom?",
        "check": [{"not_above": "people", "error": "Non."}],
    }
    assert "'check' is not allowed for this type of question" in refused(raw)


def test_two_flows_sharing_a_keyword_is_warned_of(tmp_path: Path) -> None:
    raw = report_flow()
    raw["keywords"] = ["site"]
    (tmp_path / "mini.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")

    assert check_flows(tmp_path) == []
    assert keyword_clashes(load_flows(tmp_path).values()) == [
        "mini.yaml: keyword SITE already starts flow 'location_assessment'"
    ]
