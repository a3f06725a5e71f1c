"""The headline report: exact shares, small cells hidden, and never recoverable by subtraction."""

from __future__ import annotations

import functools
import itertools
import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.orm import Session

from flows import Flow, load_flows
from gateway.cli.main import cli
from gateway.results.report import HeadlineReport, ReportRow, ReportTable, headline_report
from gateway.results.report_text import report_text
from gateway.results.selection import SubmissionFilter
from gateway.results.suppression import suppress
from gateway.surveys.persistence import sync_submission
from tests.households import FORTY, MALI, T0, add, answers, campaign, snapshot


@pytest.fixture(scope="module")
def flow() -> Flow:
    return load_flows()["return_intention"]


def rows(table: ReportTable) -> dict[str, ReportRow]:
    return {row.code: row for row in table.rows}


def shown(table: ReportTable) -> dict[str, tuple[str, float | None]]:
    """What a reader sees per row: the households as shown and the share, if any."""
    return {row.code: (row.display, row.share) for row in table.rows}


def test_forty_households_give_exact_shares_with_small_cells_hidden(
    db_session: Session, flow: Flow
) -> None:
    add(db_session, FORTY)
    report = headline_report(db_session, flow, language="fr")

    assert report.households == 40
    assert report.people == 243
    intention = shown(report.intention)
    assert intention == {
        "return": ("20", 50.0),
        "stay": ("11", 27.5),
        "relocate": ("<5", None),  # 3 households
        "undecided": ("x", None),  # 6: hidden, or 40 - 20 - 11 - 6 would give the 3
    }
    assert rows(report.intention)["relocate"].households is None
    assert rows(report.intention)["relocate"].suppressed == "small"
    assert rows(report.intention)["undecided"].households is None
    assert rows(report.intention)["undecided"].suppressed == "complementary"
    assert report.intention.households == 40
    assert [row.label for row in report.intention.rows] == [
        "Retourner au lieu d'origine",
        "Rester ici",
        "S'installer ailleurs",
        "Pas encore décidé",
    ]


def test_needs_count_a_household_once_per_need_cited(db_session: Session, flow: Flow) -> None:
    add(db_session, FORTY)
    needs = headline_report(db_session, flow).needs

    assert needs.overlapping is True
    assert needs.households == 40
    seen = shown(needs)
    assert seen["food"] == ("26", 65.0)  # 12 cited it twice, counted once
    assert seen["shelter"] == ("16", 40.0)
    assert seen["wash"] == ("8", 20.0)
    assert seen["health"] == ("6", 15.0)
    assert seen["education"] == ("<5", None)
    assert seen["protection"] == ("<5", None)  # nobody: still under k
    assert "none" not in seen  # "no second need" is not a need
    # Overlapping rows subtract to nothing: no complementary cell here.
    assert all(row.suppressed != "complementary" for row in needs.rows)


def test_regions_show_households_and_people(db_session: Session, flow: Flow) -> None:
    add(db_session, FORTY)
    report = headline_report(db_session, flow, language="en")

    current = rows(report.current_region)
    assert (current["bamako"].households, current["bamako"].share, current["bamako"].people) == (
        22,
        55.0,
        132,
    )
    assert (current["mopti"].households, current["mopti"].people) == (10, 50)
    assert (current["segou"].households, current["segou"].share, current["segou"].people) == (
        5,
        12.5,
        40,
    )
    gao = current["gao"]
    assert (gao.households, gao.share, gao.people, gao.display) == (None, None, None, "<5")
    assert report.current_region.households == 40
    assert report.current_region.people == 243
    assert current["tombouctou"].label == "Timbuktu"
    # Gao's 3 households sit with eight regions of none: "<5" nine times pins nobody down.
    assert all(row.suppressed != "complementary" for row in report.current_region.rows)

    origin = rows(report.origin_region)
    assert {
        code: (origin[code].households, origin[code].people)
        for code in origin
        if origin[code].households is not None
    } == {
        "mopti": (15, 90),
        "gao": (10, 57),
        "tombouctou": (9, 51),
        "menaka": (6, 45),
    }
    assert origin["menaka"].share == 15.0
    assert report.origin_region.people == 243


def test_the_mali_shape_reproduces_69_and_28_percent(db_session: Session, flow: Flow) -> None:
    add(db_session, MALI)
    report = headline_report(db_session, flow, language="en")

    assert report.households == 100
    assert shown(report.intention) == {
        "return": ("69", 69.0),
        "stay": ("28", 28.0),
        "relocate": ("<5", None),
        "undecided": ("<5", None),
    }
    # Two small cells hide each other: 100 - 69 - 28 = 3 does not say how they split.
    assert all(row.suppressed != "complementary" for row in report.intention.rows)
    assert report.intention.title == "Household intentions"
    assert rows(report.needs)["food"].share == 72.0  # 69 + 2 + the undecided household's 2nd


def test_only_completed_submissions_of_the_flow_count(db_session: Session, flow: Flow) -> None:
    add(db_session, FORTY)
    extra = answers("bamako", "mopti", 9, "return", "food", "none")
    sync_submission(db_session, snapshot("started-1", extra, status="active"))
    sync_submission(db_session, snapshot("declined-1", {"consent": "no"}, status="declined"))
    sync_submission(db_session, snapshot("other-1", extra, flow="other_flow"))
    db_session.commit()

    report = headline_report(db_session, flow)
    assert report.households == 40
    assert rows(report.intention)["return"].households == 20


def test_a_small_total_hides_everything(db_session: Session, flow: Flow) -> None:
    add(db_session, FORTY[:4])
    report = headline_report(db_session, flow)

    assert report.households is None and report.people is None
    for table in report.tables:
        assert table.households is None and table.people is None
        assert all(row.households is None and row.share is None for row in table.rows)
        assert all(row.people is None for row in table.rows)
    assert "4" not in json.dumps(report.as_dict()).replace("<5", "")


def test_period_and_campaign_select_households(db_session: Session, flow: Flow) -> None:
    ids = add(db_session, FORTY)  # one an hour from T0
    first_day = headline_report(
        db_session, flow, selection=SubmissionFilter(since=T0, until=T0 + timedelta(hours=24))
    )
    assert first_day.households == 24
    later = headline_report(
        db_session, flow, selection=SubmissionFilter(since=T0 + timedelta(hours=24))
    )
    assert later.households == 16

    campaign(db_session, "camp-1", [*ids[:10], None])
    reached = headline_report(db_session, flow, selection=SubmissionFilter(campaign_id="camp-1"))
    assert reached.households == 10
    assert reached.as_dict()["campaign_id"] == "camp-1"
    assert shown(reached.intention)["return"] == ("10", 100.0)


def test_k_can_be_raised_but_not_lowered(db_session: Session, flow: Flow) -> None:
    add(db_session, FORTY)
    strict = headline_report(db_session, flow, k=10)
    assert shown(strict.intention)["stay"] == ("11", 27.5)
    assert shown(strict.intention)["undecided"] == ("<10", None)
    assert strict.intention.rows[2].display == "<10"
    with pytest.raises(ValueError, match="at least 5"):
        headline_report(db_session, flow, k=3)


def test_a_flow_without_the_report_questions_is_refused(db_session: Session) -> None:
    registration = load_flows()["enumerator_registration"]
    with pytest.raises(ValueError, match="no headline report"):
        headline_report(db_session, registration)


def test_the_report_is_json_ready(db_session: Session, flow: Flow) -> None:
    add(db_session, FORTY)
    data = json.loads(json.dumps(headline_report(db_session, flow).as_dict()))
    assert data["households"] == 40 and data["k"] == 5
    assert [table["key"] for table in data["tables"]] == [
        "intention",
        "needs",
        "current_region",
        "origin_region",
    ]
    relocate = data["tables"][0]["rows"][2]
    assert relocate == {
        "code": "relocate",
        "label": "S'installer ailleurs",
        "households": None,
        "share": None,
        "people": None,
        "suppressed": "small",
        "display": "<5",
    }


# -- the rule on its own ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ([20, 11, 6, 3], [None, None, "complementary", "small"]),
        ([69, 28, 2, 1], [None, None, "small", "small"]),
        ([30, 20, 10], [None, None, None]),
        # Two small cells holding 4 + 4 = 8: each is pinned at 4, so one more is hidden.
        ([20, 11, 4, 4], [None, "complementary", "small", "small"]),
        # A tie for the complementary cell: the first in order.
        ([9, 9, 2], ["complementary", None, "small"]),
        # A lone zero is hidden with a partner too.
        ([10, 0, 7], [None, "small", "complementary"]),
        # Everything small: nothing is shown, nothing to add.
        ([1, 2, 1], ["small", "small", "small"]),
    ],
)
def test_suppression_marks(counts: list[int], expected: list[str | None]) -> None:
    assert list(suppress(counts, 5, partition=True).marks) == expected


def test_overlapping_cells_get_no_complementary() -> None:
    plan = suppress([26, 16, 4], 5, partition=False, total=40)
    assert plan.marks == (None, None, "small") and plan.total_shown


def test_a_table_that_cannot_be_protected_hides_its_total() -> None:
    # Four answers, four households each: "<5" four times and a total of 16 say "4" each.
    plan = suppress([4, 4, 4, 4], 5, partition=True)
    assert plan.marks == ("small",) * 4
    assert plan.pinned and not plan.total_shown
    assert not suppress([4, 4, 4, 3], 5, partition=True).pinned


def test_then_the_report_shows_no_total_and_no_share(db_session: Session, flow: Flow) -> None:
    intentions = ["return", "stay", "relocate", "undecided"]
    sixteen = [answers("bamako", "mopti", 5, intentions[i % 4], "food", "none") for i in range(16)]
    add(db_session, sixteen)
    report = headline_report(db_session, flow)

    assert report.households is None and report.people is None
    assert [row.display for row in report.intention.rows] == ["<5"] * 4
    for table in report.tables:
        assert table.households is None and table.people is None
        assert all(row.share is None for row in table.rows)
    bamako = rows(report.current_region)["bamako"]
    assert (bamako.households, bamako.people, bamako.share) == (16, 80, None)


def test_after_suppression_no_small_cell_is_pinned_by_the_total() -> None:
    """Every table of four cells of 0 to 12 households: no hidden household count is certain.

    A reader knows the total, the cells shown, that a "<5" cell holds 0 to 4 households and an
    "x" cell 5 or more. For each hidden small cell with households in it, more than one count
    must fit all of that.
    """
    k = 5
    for counts in itertools.product(range(13), repeat=4):
        plan = suppress(counts, k, partition=True)
        marks = plan.marks
        hidden = [i for i, mark in enumerate(marks) if mark]
        if not plan.total_shown or not hidden:
            continue  # no total, nothing to subtract from
        rest = sum(counts[i] for i in hidden)
        for i in hidden:
            if marks[i] != "small" or counts[i] == 0:
                continue
            others = tuple(sorted(marks[j] or "" for j in hidden if j != i))
            fits = [v for v in range(k) if _ways(rest - v, others, k)]
            assert len(fits) > 1, (counts, marks)


@functools.cache
def _ways(total: int, kinds: tuple[str, ...], k: int) -> bool:
    """Whether ``total`` households can be split among hidden cells of these kinds."""
    if total < 0:
        return False
    if not kinds:
        return total == 0
    head, tail = kinds[0], kinds[1:]
    values = range(0, k) if head == "small" else range(k, total + 1)
    return any(_ways(total - v, tail, k) for v in values)


# -- text and CLI -----------------------------------------------------------------------------


def test_report_text_shows_what_a_reader_sees(db_session: Session, flow: Flow) -> None:
    add(db_session, FORTY)
    text = report_text(headline_report(db_session, flow, language="fr"))
    lines = text.splitlines()
    assert lines[0] == "Intentions de retour et besoins (return_intention)"
    assert lines[1] == "questionnaires complets: 40 ménages, 243 personnes"
    assert any(
        line.split() == ["Retourner", "au", "lieu", "d'origine", "20", "50.0%"] for line in lines
    )
    assert any(line.split() == ["S'installer", "ailleurs", "<5"] for line in lines)
    assert any(line.split() == ["Pas", "encore", "décidé", "x"] for line in lines)
    assert any(line.split() == ["Bamako", "22", "55.0%", "132"] for line in lines)
    assert any(line.split() == ["Gao", "<5"] for line in lines)


def survey_gateway(database_url: str, tmp_path: Path, *args: str) -> Result:
    """Run a ``survey-gateway`` command in this process, on the database under test."""
    env = {"GATEWAY_VAR_DIR": str(tmp_path / "cli-var"), "DATABASE_URL": database_url}
    return CliRunner().invoke(cli, list(args), env=env)


def test_report_command_prints_the_tables(
    db_session: Session, database_url: str, tmp_path: Path
) -> None:
    add(db_session, FORTY)
    result = survey_gateway(
        database_url, tmp_path, "report", "--flow", "return_intention", "--language", "en"
    )
    assert result.exit_code == 0, result.output
    assert "completed surveys: 40 households, 243 people" in result.stdout
    lines = result.stdout.splitlines()
    assert any(line.split() == ["Stay", "here", "11", "27.5%"] for line in lines)

    one_day = survey_gateway(
        database_url,
        tmp_path,
        *("report", "--flow", "return_intention", "--since", "2025-03-02"),
        *("--until", "2025-03-02"),
    )
    assert one_day.exit_code == 0, one_day.output
    # One household an hour from 1 March 09:00 UTC: hours 15 to 38 fall on 2 March.
    assert "24 ménages" in one_day.stdout


def test_report_command_refuses_a_low_k_a_bad_date_and_an_unknown_flow(
    db_session: Session, database_url: str, tmp_path: Path
) -> None:
    low = survey_gateway(database_url, tmp_path, "report", "--flow", "return_intention", "--k", "3")
    assert low.exit_code == 2 and "--k" in low.output
    bad = survey_gateway(
        database_url, tmp_path, "report", "--flow", "return_intention", "--since", "March"
    )
    assert bad.exit_code == 2 and "2025-03-31" in bad.output
    assert bad.exception is None or isinstance(bad.exception, SystemExit)
    unknown = survey_gateway(database_url, tmp_path, "report", "--flow", "nope")
    assert unknown.exit_code == 2 and "unknown flow 'nope'" in unknown.output
    other = survey_gateway(database_url, tmp_path, "report", "--flow", "enumerator_registration")
    assert other.exit_code == 2 and "no headline report" in other.output
    nowhere = survey_gateway(
        database_url, tmp_path, "report", "--flow", "return_intention", "--campaign", "nope"
    )
    assert nowhere.exit_code == 2 and "no campaign has the id 'nope'" in nowhere.output


def test_a_report_is_frozen(db_session: Session, flow: Flow) -> None:
    report = headline_report(db_session, flow)
    assert isinstance(report, HeadlineReport)
    with pytest.raises(AttributeError):
        report.households = 3  # type: ignore[misc]
