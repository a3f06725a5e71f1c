"""XLSForms imported as flows: what maps onto the flow model, what is refused (with its sheet,
row and column), the shipped return_intention form, export and re-import, and versions."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from openpyxl import load_workbook

from flows import QuestionAsked, QuestionType, load_flow, load_flows, resume, start
from flows.model import ChoiceFilter
from gateway.cli.main import cli
from gateway.surveys.flow_files import import_xlsform, publish_draft
from gateway.surveys.xlsform_export import xlsform_bytes
from gateway.surveys.xlsform_import import read_xlsform
from gateway.surveys.xlsform_rules import XlsFormRefused
from tests.xlsforms import EN, FR, SITE_SETTINGS, SITE_SURVEY, site_form, xlsform

SHIPPED = Path(__file__).resolve().parents[2] / "flows" / "surveys"


def test_the_shipped_xlsform_gives_the_same_flow_as_the_yaml() -> None:
    from_yaml = load_flow(SHIPPED / "return_intention.yaml")
    imported = read_xlsform((SHIPPED / "xlsform" / "return_intention.xlsx").read_bytes())

    assert imported.flow == from_yaml
    assert imported.notes == []  # every question written as required: nothing to warn of


def test_a_flow_exported_then_imported_is_the_same_flow() -> None:
    site = read_xlsform(site_form()).flow
    for flow in (load_flow(SHIPPED / "return_intention.yaml"), site):
        assert read_xlsform(xlsform_bytes(flow)).flow == flow


def test_a_realistic_form_maps_onto_the_flow_model() -> None:
    imported = read_xlsform(site_form())
    flow = imported.flow

    assert (flow.id, flow.version, flow.default_language) == ("site_assessment", 2026030101, "fr")
    assert flow.languages == {"fr": "Français", "en": "English"}
    assert flow.keywords == ("EVAL",)
    kinds = {q.key: q.type for q in flow.questions}
    assert kinds == {
        "consent": QuestionType.CHOICE,
        "region": QuestionType.CHOICE,
        "site": QuestionType.CHOICE,
        "households": QuestionType.INTEGER,
        "needs": QuestionType.MULTI_CHOICE,
        "water_points": QuestionType.INTEGER,
        "thanks_note": QuestionType.NOTE,
    }
    households = flow.question("households")
    assert (households.minimum, households.maximum) == (1, 500)
    assert households.error == {"fr": "Entre 1 et 500 ménages.", "en": "From 1 to 500 households."}
    site = flow.question("site")
    assert site.choice_filter == ChoiceFilter(property="region", answer="region")
    assert site.options[0].properties == (("region", "mopti"),)
    assert site.text == {"fr": "Votre site?", "en": "Your site?"}
    assert imported.rows["households"] == 7
    assert imported.notes == [
        "survey row 2: 'start' is recorded by ODK apps only; left out",
        "survey row 3: 'end' is recorded by ODK apps only; left out",
    ]


def test_questions_the_form_does_not_require_are_asked_as_required_with_a_note() -> None:
    survey = [list(r) for r in SITE_SURVEY]
    survey[6][5] = ""  # households: required left blank, XLSForm's "no"
    survey[7][5] = "no"  # needs

    imported = read_xlsform(site_form(survey=survey))

    assert imported.notes[-1] == (
        "survey rows 7 (households), 8 (needs): not required in the form, asked as required:"
        " over SMS and USSD every question waits for an answer (a keypad sends no empty answer,"
        " and 0 goes back). Where one may not answer, add a choice such as 'Don't know', or"
        " set required to yes to silence this note"
    )
    flow = imported.flow
    now = datetime(2026, 3, 1, 9, tzinfo=UTC)
    step = start(flow, run_id="r1", language="en", now=now)
    for answer in ("1", "1", "1"):
        step = resume(flow, step.state, answer, now=now)
    assert step.screen.key == "households"  # type: ignore[union-attr]
    for empty in ("", " "):
        refused = resume(flow, step.state, empty, now=now).screen
        assert isinstance(refused, QuestionAsked)
        assert (refused.key, refused.error) == ("households", "From 1 to 500 households.")
    # Exported, the questions are written as required: imported again, no note.
    again = read_xlsform(xlsform_bytes(flow))
    assert again.flow == flow and not any("not required" in n for n in again.notes)


def with_row(row: list[object], header: list[str] | None = None) -> bytes:
    """The site form with ``row`` added as survey row 11."""
    survey = [header or SITE_SURVEY[0], *SITE_SURVEY[1:], row]
    return site_form(survey=survey)


def row(kind: str, name: str, **cells: str) -> list[object]:
    values = {"type": kind, "name": name, "label": "Q?", **cells}
    return [values.get(c, values["label"] if c in (FR, EN) else "") for c in SITE_SURVEY[0]]


@pytest.mark.parametrize(
    ("form", "where", "why"),
    [
        (with_row(row("calculate", "total", label="")), "row 11, column type", "calculations"),
        (with_row(row("geopoint", "gps")), "row 11, column type", "no location"),
        (with_row(row("date", "arrived")), "row 11, column type", "date"),
        (with_row(row("image", "photo")), "row 11, column type", "text only"),
        (with_row(row("begin repeat", "members")), "row 11, column type", "repeat"),
        (
            with_row(row("begin group", "g", relevant="${consent} = 'yes'")),
            "row 11, column relevant",
            "group with logic",
        ),
        (
            with_row(row("integer", "n", relevant="count(${needs}) > 1")),
            "row 11, column relevant",
            "count() has no meaning over SMS/USSD",
        ),
        (
            with_row(row("text", "why", constraint="regex(., '[a-z]+')")),
            "row 11, column constraint",
            "string-length(.) <= 30",
        ),
        (
            with_row(row("select_one site", "site2", choice_filter="region=${region} or 1")),
            "row 11, column choice_filter",
            "one equality",
        ),
        (with_row(row("integer", "Size")), "row 11, column name", "lower-case"),
        (
            site_form(survey=[[*SITE_SURVEY[0], "media::image"], [*SITE_SURVEY[3], "a.png"]]),
            "row 2, column media::image",
            "text only",
        ),
        (
            site_form(
                settings=[SITE_SETTINGS[0], ["T", "site_assessment", "v2", "Français (fr)", ""]]
            ),
            "sheet settings, row 2, column version",
            "whole number",
        ),
    ],
    ids=[
        "calculate",
        "geopoint",
        "date",
        "media-type",
        "repeat",
        "group-with-logic",
        "relevant-function",
        "constraint-regex",
        "choice-filter",
        "name",
        "media-column",
        "version",
    ],  # fmt: skip
)
def test_a_construct_that_cannot_run_is_refused_with_its_row(
    form: bytes, where: str, why: str, tmp_path: Path
) -> None:
    with pytest.raises(XlsFormRefused) as refused:
        import_xlsform(form, tmp_path)

    messages = [str(p) for p in refused.value.problems]
    assert any(where in m and why in m for m in messages), messages
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_every_problem_is_listed_at_once() -> None:
    survey = [*SITE_SURVEY, row("geopoint", "gps"), row("calculate", "c", label="")]
    with pytest.raises(XlsFormRefused) as refused:
        read_xlsform(site_form(survey=survey))

    assert [str(p).split(":")[0] for p in refused.value.problems] == [
        "sheet survey, row 11, column type",
        "sheet survey, row 12, column type",
    ]


def test_rows_too_long_for_a_screen_or_an_sms_are_reported(tmp_path: Path) -> None:
    long = "Combien de personnes " * 10
    report = import_xlsform(with_row(row("integer", "people", label=long)), tmp_path)

    assert any(
        line.startswith("survey row 11 (people) [fr]: the USSD screen text is")
        for line in report.too_long
    ), report.too_long
    assert any("(people) [en]: the SMS with its options is" in line for line in report.too_long)


def settings_at(version: str) -> list[list[object]]:
    return [SITE_SETTINGS[0], ["T", "site_assessment", version, "Français (fr)", "EVAL"]]


def test_a_new_version_keeps_the_one_it_replaces_for_runs_under_way(tmp_path: Path) -> None:
    first = import_xlsform(site_form(settings=settings_at("1")), tmp_path)
    assert first.path == tmp_path / "drafts" / "site_assessment.yaml"
    # A draft is no flow a household can reach.
    assert "site_assessment" not in load_flows(tmp_path)
    published = publish_draft(tmp_path, "site_assessment")
    assert published is not None and published.replaced is None
    assert publish_draft(tmp_path, "site_assessment") is None  # no draft left
    again = import_xlsform(site_form(settings=settings_at("1")), tmp_path)
    assert again.unchanged and not (tmp_path / "drafts" / "site_assessment.yaml").exists()

    changed = [*SITE_SURVEY[:-1]]  # the note removed, same version: refused
    with pytest.raises(XlsFormRefused, match="version 1 is already in use"):
        import_xlsform(site_form(survey=changed, settings=settings_at("1")), tmp_path)

    import_xlsform(site_form(survey=changed, settings=settings_at("2")), tmp_path)
    # A draft of version 2: new runs still start on version 1 until it is published.
    assert load_flow(tmp_path / "site_assessment.yaml").version == 1
    second = publish_draft(tmp_path, "site_assessment")
    assert second is not None and second.replaced == 1
    assert load_flow(tmp_path / "site_assessment.yaml").version == 2
    kept = load_flow(tmp_path / "versions" / "site_assessment.v1.yaml")
    assert (kept.version, kept.question_keys[-1]) == (1, "thanks_note")

    with pytest.raises(XlsFormRefused, match="version 2 is already in use"):
        import_xlsform(site_form(settings=settings_at("1")), tmp_path)


def test_a_draft_is_not_published_over_a_newer_version(tmp_path: Path) -> None:
    import_xlsform(site_form(settings=settings_at("3")), tmp_path)
    draft = import_xlsform(site_form(settings=settings_at("4")), tmp_path)  # replaces the draft
    assert load_flow(draft.path).version == 4
    # Meanwhile version 5 was published from elsewhere (another draft, another server).
    published = tmp_path / "site_assessment.yaml"
    shutil.copy(draft.path, published)
    published.write_text(published.read_text().replace("version: 4", "version: 5"))

    with pytest.raises(XlsFormRefused, match="version 5 is already in use: raise the version"):
        publish_draft(tmp_path, "site_assessment")
    assert draft.path.exists()
    assert load_flow(published).version == 5


def test_a_form_without_language_codes_is_refused() -> None:
    form = xlsform(
        survey=[["type", "name", "label"], ["integer", "n", "How many?"]],
        settings=[["form_id"], ["plain"]],
    )
    with pytest.raises(XlsFormRefused, match="row 1, column label: name the label's language"):
        read_xlsform(form)


def test_flows_check_reads_the_versions_kept_for_runs_under_way(tmp_path: Path) -> None:
    folder = tmp_path / "flows"
    for version in ("1", "2"):
        import_xlsform(site_form(settings=settings_at(version)), folder)
        publish_draft(folder, "site_assessment")
    env = {"GATEWAY_VAR_DIR": str(tmp_path / "var"), "GATEWAY_FLOWS_DIR": None}

    def check() -> Result:
        return CliRunner().invoke(cli, ["flows", "check", "--dir", str(folder)], env=env)

    fine = check()
    assert fine.exit_code == 0, fine.output
    assert fine.output.endswith(
        "5 flows OK: enumerator_registration, flow_monitoring, location_assessment,"
        " return_intention, site_assessment;"
        " 1 kept version OK\n"
    )
    kept = folder / "versions" / "site_assessment.v1.yaml"
    kept.rename(folder / "versions" / "site_assessment.v7.yaml")
    (folder / "versions" / "broken.v1.yaml").write_text("id: broken\nversion: [\n")

    refused = check()
    assert refused.exit_code == 1
    assert refused.output.splitlines() == [
        "versions/broken.v1.yaml: is not valid YAML at line 3",
        "versions/site_assessment.v7.yaml: holds site_assessment version 1:"
        " name it site_assessment.v1.yaml",
        "Error: 2 problems in the flow files",
    ]


def test_a_new_version_of_a_shipped_flow_keeps_the_shipped_one_for_runs_under_way(
    tmp_path: Path,
) -> None:
    shipped = (SHIPPED / "xlsform" / "return_intention.xlsx").read_bytes()
    assert import_xlsform(shipped, tmp_path).unchanged  # the very flow that ships

    book = load_workbook(BytesIO(shipped))
    settings = book["settings"]
    header = [cell.value for cell in settings[1]]
    settings.cell(2, header.index("version") + 1).value = "2"
    newer = BytesIO()
    book.save(newer)
    import_xlsform(newer.getvalue(), tmp_path)
    published = publish_draft(tmp_path, "return_intention")

    assert published is not None and published.replaced == 1
    assert load_flows(tmp_path)["return_intention"].version == 2
    kept = load_flow(tmp_path / "versions" / "return_intention.v1.yaml")
    shipped_flow = load_flow(SHIPPED / "return_intention.yaml")
    assert replace(kept, source=shipped_flow.source) == shipped_flow
