"""Bar charts as inline SVG: well-formed, readable without sight, never drawing a hidden cell."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from gateway.results.report import ReportRow, ReportTable
from gateway.web.charts import Bar, bar_chart, report_chart

SVG = "{http://www.w3.org/2000/svg}"

INTENTION = ReportTable(
    key="intention",
    title="Intentions des ménages",
    households=100,
    people=None,
    rows=(
        ReportRow("return", "Retourner au lieu d'origine", 69, 69.0, display="69"),
        ReportRow("stay", "Rester ici", 28, 28.0, display="28"),
        ReportRow("relocate", "S'installer ailleurs", None, None, suppressed="small", display="<5"),
        ReportRow("undecided", "Pas encore décidé", None, None, suppressed="small", display="<5"),
    ),
)


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def texts(root: ET.Element) -> list[str]:
    return [element.text or "" for element in root.iter(f"{SVG}text")]


def test_a_report_table_as_bars_of_shares() -> None:
    svg = report_chart(INTENTION)
    root = parse(svg)

    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    assert root.find(f"{SVG}title").text == "Intentions des ménages"  # type: ignore[union-attr]
    desc = root.find(f"{SVG}desc").text  # type: ignore[union-attr]
    assert desc == (
        "Retourner au lieu d'origine: 69%; Rester ici: 28%; S'installer ailleurs: <5; "
        "Pas encore décidé: <5"
    )
    shown = texts(root)
    assert shown[0] == "Intentions des ménages"
    assert shown[1:] == [
        "Retourner au lieu d'origine",
        "69%",
        "Rester ici",
        "28%",
        "S'installer ailleurs",
        "<5",
        "Pas encore décidé",
        "<5",
    ]
    # Two bars only: a suppressed cell has its text and no bar.
    bars = list(root.iter(f"{SVG}rect"))
    assert len(bars) == 2
    widths = [float(bar.get("width", "0")) for bar in bars]
    # Shares are drawn against 100%: 69 is 69/28 times as long as 28.
    assert abs(widths[0] / widths[1] - 69 / 28) < 0.01
    assert "<script" not in svg and "http://" not in svg.replace("http://www.w3.org/2000/svg", "")


def test_labels_and_titles_are_escaped() -> None:
    svg = bar_chart(
        'Needs <b>"&"</b>',
        [Bar("<script>alert(1)</script>", 3.0, "3"), Bar("A & B", None, "<5")],
    )
    assert "<script>" not in svg and "<b>" not in svg
    root = parse(svg)  # still well-formed XML
    assert root.find(f"{SVG}title").text == 'Needs <b>"&"</b>'  # type: ignore[union-attr]
    assert texts(root)[1:] == ["<script>alert(1)</script>", "3", "A & B", "<5"]


def test_counts_scale_to_the_largest_bar_and_long_labels_are_cut() -> None:
    long_label = "Articles ménagers et autres biens essentiels du foyer"
    svg = bar_chart("Ménages", [Bar("Bamako", 22.0, "22"), Bar(long_label, 11.0, "11")])
    root = parse(svg)
    widths = [float(bar.get("width", "0")) for bar in root.iter(f"{SVG}rect")]
    assert widths[0] == 2 * widths[1]
    labels = texts(root)
    assert labels[3].endswith("…") and len(labels[3]) <= 30
    assert long_label in root.find(f"{SVG}desc").text  # type: ignore[operator, union-attr]


def test_an_empty_chart_and_a_small_output() -> None:
    empty = parse(bar_chart("Rien", []))
    assert list(empty.iter(f"{SVG}rect")) == []
    twelve = bar_chart("Régions", [Bar(f"Région {i}", float(i), str(i)) for i in range(12)])
    assert len(twelve) < 3500
    assert "\n" not in twelve


def test_households_and_people_measures() -> None:
    table = ReportTable(
        key="current_region",
        title="Région actuelle",
        households=40,
        people=243,
        rows=(
            ReportRow("bamako", "Bamako", 22, 55.0, 132, display="22"),
            ReportRow("gao", "Gao", None, None, None, "small", "<5"),
            ReportRow("mopti", "Mopti", 10, 25.0, 50, display="10"),
        ),
        with_people=True,
    )
    households = texts(parse(report_chart(table, measure="households")))
    assert households[1:] == ["Bamako", "22", "Gao", "<5", "Mopti", "10"]
    people = texts(parse(report_chart(table, measure="people")))
    assert people[1:] == ["Bamako", "132", "Gao", "<5", "Mopti", "50"]
