"""``survey-gateway report --flow flow_monitoring|location_assessment``: the headline figures
of enumerators' reports, filtered by date, region and enumerator; withdrawn reports left out."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import select

from gateway.cli.data import export, report
from gateway.core.runtime import Runtime
from gateway.core.settings import Settings
from gateway.reports.models import Report
from gateway.staff.models import AuditEvent
from tests.commands import command_env

MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TUESDAY = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
NEXT_MONDAY = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)


def keep(
    runtime: Runtime,
    flow: str,
    at: datetime,
    answers: dict[str, str],
    code: str = "ENQ-7K3D",
    withdrawn: bool = False,
) -> None:
    with runtime.sessions.begin() as session:
        number = session.query(Report).count()
        session.add(
            Report(
                id=f"run-{number}",
                reference=f"REF{number:03d}",
                enumerator_code=code,
                flow=flow,
                flow_version=1,
                channel="sms",
                language="fr",
                answers_json=json.dumps(answers),
                received_at=at,
                withdrawn_at=at if withdrawn else None,
            )
        )


def group(
    point: str, direction: str, people: int, frm: str, to: str, vulnerable: int
) -> dict[str, str]:
    return {
        "point": point,
        "direction": direction,
        "individuals": str(people),
        "households": "1",
        "origin_region": frm,
        "destination_region": to,
        "reason": "conflict" if direction == "in" else "return",
        "vulnerable": str(vulnerable),
    }


def site(
    region: str, name: str, kind: str, hh: int, people: int, back: int, access: str
) -> dict[str, str]:
    return {
        "site_type": kind,
        "region": region,
        "site_name": name,
        "idp_households": str(hh),
        "idp_individuals": str(people),
        "returnee_individuals": str(back),
        "need_1": "food",
        "need_2": "wash" if region == "gao" else "none",
        "access": access,
    }


def run_report(runtime: Runtime, settings: Settings, *args: str, command: Any = report) -> str:
    env = command_env(settings, runtime)
    result = CliRunner().invoke(command, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_flow_monitoring_figures_per_point_day_and_week(
    runtime: Runtime, settings: Settings
) -> None:
    keep(runtime, "flow_monitoring", MONDAY, group("gao", "in", 12, "mopti", "gao", 4))
    keep(runtime, "flow_monitoring", MONDAY, group("gao", "out", 5, "gao", "kidal", 1))
    keep(runtime, "flow_monitoring", TUESDAY, group("gao", "in", 30, "mopti", "gao", 2))
    keep(
        runtime,
        "flow_monitoring",
        TUESDAY,
        group("mopti", "in", 7, "segou", "mopti", 0),
        "ENQ-9Z9Z",
    )
    keep(
        runtime,
        "flow_monitoring",
        MONDAY,
        group("gao", "in", 99, "kidal", "gao", 9),
        withdrawn=True,
    )

    output = run_report(runtime, settings, "--flow", "flow_monitoring", "--language", "en")

    assert output.splitlines() == [
        "Flow monitoring, reports: 4",
        "",
        "People arriving and leaving, per point and day:",
        "  Gao 2026-03-02: 12 in, 5 out, net +7",
        "  Gao 2026-03-03: 30 in, 0 out, net +30",
        "  Mopti 2026-03-03: 7 in, 0 out, net +7",
        "",
        "People arriving and leaving, per point and week:",
        "  Gao 2026-W10: 42 in, 5 out, net +37",
        "  Mopti 2026-W10: 7 in, 0 out, net +7",
        "",
        "Main origin -> destination (people):",
        "  Mopti -> Gao: 42",
        "  Ségou -> Mopti: 7",
        "  Gao -> Kidal: 5",
        "",
        "Reasons (people):",
        "  Conflict or insecurity: 49",
        "  Going home: 5",
        "",
        "Vulnerable people, per point:",
        "  Gao: 7",
        "  Mopti: 0",
    ]
    tuesday_at_mopti = run_report(
        runtime, settings, "--flow", "flow_monitoring", "--since", "2026-03-03", "--region", "mopti"
    )
    assert tuesday_at_mopti.splitlines()[0] == "Suivi des flux, reports: 1"
    assert "  Mopti 2026-03-03: 7 in, 0 out, net +7" in tuesday_at_mopti.splitlines()
    by_other = run_report(
        runtime, settings, "--flow", "flow_monitoring", "--enumerator", "enq 9z9z"
    )
    assert by_other.splitlines()[0] == "Suivi des flux, reports: 1"


def test_site_figures_count_each_site_once_by_its_latest_report(
    runtime: Runtime, settings: Settings
) -> None:
    keep(
        runtime, "location_assessment", MONDAY, site("gao", "Sossokoira", "camp", 40, 150, 0, "yes")
    )
    keep(
        runtime,
        "location_assessment",
        NEXT_MONDAY,
        site("gao", "sossokoira", "camp", 50, 210, 5, "partial"),
    )
    keep(runtime, "location_assessment", TUESDAY, site("gao", "Chateau", "host", 10, 45, 20, "yes"))
    keep(
        runtime,
        "location_assessment",
        TUESDAY,
        site("mopti", "Sevare", "return_area", 0, 0, 300, "no"),
    )

    output = run_report(runtime, settings, "--flow", "location_assessment", "--language", "en")

    assert output.splitlines() == [
        "Site assessment, reports: 4; sites: 3 (the latest report of each)",
        "Displaced households: 60; displaced people: 255; returnees: 325",
        "",
        "Displaced households and people, per region and type of place:",
        "  Gao / Site or camp: sites 1, households 50, people 210",
        "  Gao / Host community: sites 1, households 10, people 45",
        "  Mopti / Area of return: sites 1, households 0, people 0",
        "",
        "Returnees, per region:",
        "  Gao: 25",
        "  Mopti: 300",
        "",
        "Needs cited (sites citing each, first or second):",
        "  Food: 3",
        "  Water, hygiene: 2",
        "",
        "Sites with no or partial access:",
        "  Gao: sossokoira (Partial)",
        "  Mopti: Sevare (No)",
    ]
    earlier = run_report(
        runtime,
        settings,
        "--flow",
        "location_assessment",
        "--until",
        "2026-03-03",
        "--region",
        "gao",
    )
    assert earlier.splitlines()[1] == (
        "Displaced households: 50; displaced people: 195; returnees: 20"
    )


def test_sites_export_as_hxl_filtered_without_withdrawn_reports(
    runtime: Runtime, settings: Settings
) -> None:
    keep(
        runtime, "location_assessment", MONDAY, site("gao", "Sossokoira", "camp", 40, 150, 0, "yes")
    )
    keep(runtime, "location_assessment", TUESDAY, site("mopti", "Sevare", "host", 3, 9, 0, "no"))
    keep(
        runtime,
        "location_assessment",
        TUESDAY,
        site("gao", "X", "camp", 1, 1, 0, "no"),
        withdrawn=True,
    )

    output = run_report(
        runtime,
        settings,
        "--flow",
        "location_assessment",
        "--format",
        "hxl",
        "--region",
        "gao",
        command=export,
    )

    header, tags, row, summary = output.splitlines()
    assert header == (
        "reference,reported_at,enumerator,flow_version,channel,language,site_type,region,"
        "site_name,idp_households,idp_individuals,returnee_individuals,need_1,need_2,access"
    )
    assert tags.split(",")[:2] == ["#meta+ref", "#date+reported"]
    for tag in ("#affected+idps+ind", "#affected+hh", "#adm1+code", "#loc+name"):
        assert tag in tags.split(",")
    assert row == (
        "REF000,2026-03-02T09:00:00+00:00,ENQ-7K3D,1,sms,fr,camp,gao,Sossokoira,40,150,0,"
        "food,wash,yes"
    )
    assert summary == "1 report exported."
    with runtime.sessions() as session:
        (event,) = session.scalars(select(AuditEvent)).all()
    assert (event.action, event.object_id, event.detail) == (
        "report.export",
        "location_assessment",
        "hxl, 1 reports",
    )


def test_sites_export_as_a_workbook_with_numbers_dates_and_the_codebook(
    runtime: Runtime, settings: Settings, tmp_path: Path
) -> None:
    keep(
        runtime,
        "location_assessment",
        MONDAY,
        site("gao", "=Sossokoira", "camp", 40, 150, 0, "yes"),
    )
    keep(
        runtime,
        "location_assessment",
        TUESDAY,
        site("gao", "X", "camp", 1, 1, 0, "no"),
        withdrawn=True,
    )
    path = tmp_path / "sites.xlsx"

    summary = run_report(
        runtime,
        settings,
        *("--flow", "location_assessment", "--format", "xlsx", "--output", str(path)),
        command=export,
    )

    assert summary == "1 report exported.\n"
    book = load_workbook(path)
    sheet, codebook = book.worksheets
    assert sheet.freeze_panes == "A2"
    header, row = ([cell.value for cell in line] for line in sheet.iter_rows())
    assert header[:3] == ["reference", "reported_at", "enumerator"]
    values = dict(zip(header, row, strict=True))
    # Counts are numbers, the time a date cell (UTC), and a name starting with "=" stays text.
    assert (values["idp_households"], values["idp_individuals"]) == (40, 150)
    assert values["reported_at"] == datetime(2026, 3, 2, 9, 0)
    assert (values["site_name"], values["region"], values["flow_version"]) == (
        "'=Sossokoira",
        "gao",
        1,
    )
    lines = [[cell.value or "" for cell in line] for line in codebook.iter_rows()]
    assert lines[0] == [
        "question",
        "type",
        "text_fr",
        "text_en",
        "option",
        "label_fr",
        "label_en",
        "pcode",
    ]
    access = [line for line in lines if line[0] == "access"]
    assert access == [
        ["access", "choice", "Accès humanitaire?", "Humanitarian access?", "", "", "", ""],
        ["access", "", "", "", "yes", "Oui", "Yes", ""],
        ["access", "", "", "", "partial", "Partiel", "Partial", ""],
        ["access", "", "", "", "no", "Non", "No", ""],
    ]
    with runtime.sessions() as session:
        (event,) = session.scalars(select(AuditEvent)).all()
    assert event.detail == "xlsx, 1 reports"
