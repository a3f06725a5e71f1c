"""The headline figures of enumerators' reports, per report flow.

Flow monitoring: people arriving and leaving per point, per day and per week, the net flow,
the main origin -> destination pairs, the reasons, the vulnerable people. Location assessment:
the latest report of each site, displaced households and people by region and type of place,
returnees by region, the needs cited, and the sites with no or partial access.

Counts are about places, not people: no small-cell suppression applies (reports stay
staff-only). Withdrawn reports count for nothing.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.reports.models import Report

TOP = 5
"""How many origin -> destination pairs and needs a report lists."""


@dataclass(frozen=True, slots=True)
class ReportFilter:
    """Reports received in ``[since, until)``, about ``region``, by enumerator ``enumerator``."""

    since: datetime | None = None
    until: datetime | None = None
    region: str | None = None
    enumerator: str | None = None


def selected_reports(session: Session, flow: str, selection: ReportFilter) -> list[Report]:
    """The flow's reports that are not withdrawn and match ``selection``, oldest first."""
    stmt = select(Report).where(Report.flow == flow, Report.withdrawn_at.is_(None))
    if selection.since is not None:
        stmt = stmt.where(Report.received_at >= selection.since)
    if selection.until is not None:
        stmt = stmt.where(Report.received_at < selection.until)
    if selection.enumerator is not None:
        stmt = stmt.where(Report.enumerator_code == selection.enumerator)
    rows = list(session.scalars(stmt.order_by(Report.received_at, Report.id)))
    if selection.region is None:
        return rows
    return [row for row in rows if region_of(row) == selection.region]


def region_of(report: Report) -> str:
    """The region a report is about: a site's region, or a flow monitoring point's (each
    point is named after its region)."""
    answers = report.answers
    return answers.get("region") or answers.get("point") or ""


@dataclass(frozen=True, slots=True)
class Movement:
    """People arriving and leaving a point in a period."""

    arrivals: int = 0
    departures: int = 0

    @property
    def net(self) -> int:
        """Arrivals less departures."""
        return self.arrivals - self.departures


@dataclass(frozen=True, slots=True)
class FlowFigures:
    """The headline figures of flow monitoring."""

    reports: int
    # (point, day as YYYY-MM-DD) and (point, ISO week as YYYY-Www) to movements.
    by_day: dict[tuple[str, str], Movement]
    by_week: dict[tuple[str, str], Movement]
    pairs: list[tuple[str, str, int]]
    reasons: dict[str, int]
    vulnerable: dict[str, int]


def flow_figures(reports: list[Report]) -> FlowFigures:
    """Flow monitoring's figures over ``reports``."""
    by_day: dict[tuple[str, str], Movement] = {}
    by_week: dict[tuple[str, str], Movement] = {}
    pairs: Counter[tuple[str, str]] = Counter()
    reasons: Counter[str] = Counter()
    vulnerable: Counter[str] = Counter()
    for report in reports:
        answers = report.answers
        point, people = answers["point"], int(answers["individuals"])
        year, week, _ = report.received_at.isocalendar()
        for table, period in (
            (by_day, report.received_at.date().isoformat()),
            (by_week, f"{year}-W{week:02d}"),
        ):
            table[point, period] = _moved(table.get((point, period), Movement()), answers, people)
        pairs[answers["origin_region"], answers["destination_region"]] += people
        reasons[answers["reason"]] += people
        vulnerable[point] += int(answers["vulnerable"])
    return FlowFigures(
        reports=len(reports),
        by_day=dict(sorted(by_day.items())),
        by_week=dict(sorted(by_week.items())),
        pairs=[(origin, to, n) for (origin, to), n in pairs.most_common(TOP)],
        reasons=dict(reasons.most_common()),
        vulnerable=dict(sorted(vulnerable.items())),
    )


def _moved(movement: Movement, answers: dict[str, str], people: int) -> Movement:
    if answers["direction"] == "in":
        return Movement(movement.arrivals + people, movement.departures)
    return Movement(movement.arrivals, movement.departures + people)


@dataclass(frozen=True, slots=True)
class SiteTotals:
    """Displaced households and people, and returnees, over the sites of a group."""

    sites: int = 0
    idp_households: int = 0
    idp_individuals: int = 0
    returnees: int = 0


@dataclass(frozen=True, slots=True)
class SiteFigures:
    """The headline figures of location assessments (the latest report of each site)."""

    reports: int
    sites: int
    totals: SiteTotals
    # (region, type of place) to totals.
    by_region_type: dict[tuple[str, str], SiteTotals]
    returnees_by_region: dict[str, int]
    needs: list[tuple[str, int]]
    # (region, site name, access) of each site with no or partial access.
    limited_access: list[tuple[str, str, str]] = field(default_factory=list)


def site_figures(reports: list[Report]) -> SiteFigures:
    """Location assessment's figures: each site counted once, by its latest report."""
    latest: dict[tuple[str, str], Report] = {}
    for report in reports:  # oldest first: a later report of a site replaces an earlier one
        answers = report.answers
        latest[answers["region"], " ".join(answers["site_name"].casefold().split())] = report
    groups: defaultdict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    for report in latest.values():
        answers = report.answers
        groups[answers["region"], answers["site_type"]].append(answers)
    by_region_type = {key: _totals(group) for key, group in sorted(groups.items())}
    returnees: Counter[str] = Counter()
    needs: Counter[str] = Counter()
    limited: list[tuple[str, str, str]] = []
    for report in latest.values():
        answers = report.answers
        returnees[answers["region"]] += int(answers["returnee_individuals"])
        needs.update({answers["need_1"], answers["need_2"]} - {"none"})
        if answers["access"] != "yes":
            limited.append((answers["region"], answers["site_name"], answers["access"]))
    return SiteFigures(
        reports=len(reports),
        sites=len(latest),
        totals=_totals([r.answers for r in latest.values()]),
        by_region_type=by_region_type,
        returnees_by_region=dict(sorted(returnees.items())),
        needs=needs.most_common(TOP),
        limited_access=sorted(limited),
    )


def _totals(group: list[dict[str, str]]) -> SiteTotals:
    return SiteTotals(
        sites=len(group),
        idp_households=sum(int(a["idp_households"]) for a in group),
        idp_individuals=sum(int(a["idp_individuals"]) for a in group),
        returnees=sum(int(a["returnee_individuals"]) for a in group),
    )
