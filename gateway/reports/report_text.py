"""The headline figures of a report flow as text for a terminal, labels in one language."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from flows import Flow
from flows.model import localise
from gateway.reports.aggregates import (
    FlowFigures,
    Movement,
    ReportFilter,
    SiteFigures,
    flow_figures,
    selected_reports,
    site_figures,
)


def figures_text(
    session: Session, flow: Flow, selection: ReportFilter, language: str
) -> str | None:
    """The headline figures of report flow ``flow`` over the reports ``selection`` keeps;
    None for a report flow that has none."""
    rows = selected_reports(session, flow.id, selection)
    if flow.id == "flow_monitoring":
        return flow_text(flow, flow_figures(rows), language)
    if flow.id == "location_assessment":
        return site_text(flow, site_figures(rows), language)
    return None


def flow_text(flow: Flow, figures: FlowFigures, language: str) -> str:
    """Flow monitoring's figures: movements per point and day, per week, pairs, reasons."""
    label = _labeller(flow, language)
    lines = [f"{localise(flow.name, language, flow.default_language)}, reports: {figures.reports}"]
    for title, table in (("day", figures.by_day), ("week", figures.by_week)):
        lines += ["", f"People arriving and leaving, per point and {title}:"]
        lines += [_movement_row(label("point", p), period, m) for (p, period), m in table.items()]
    lines += ["", "Main origin -> destination (people):"]
    lines += [
        f"  {label('origin_region', o)} -> {label('destination_region', d)}: {n}"
        for o, d, n in figures.pairs
    ]
    lines += ["", "Reasons (people):"]
    lines += [f"  {label('reason', code)}: {n}" for code, n in figures.reasons.items()]
    lines += ["", "Vulnerable people, per point:"]
    lines += [f"  {label('point', code)}: {n}" for code, n in figures.vulnerable.items()]
    return "\n".join(lines)


def site_text(flow: Flow, figures: SiteFigures, language: str) -> str:
    """Location assessment's figures, each site counted once by its latest report."""
    label = _labeller(flow, language)
    total = figures.totals
    lines = [
        f"{localise(flow.name, language, flow.default_language)}, reports: {figures.reports};"
        f" sites: {figures.sites} (the latest report of each)",
        f"Displaced households: {total.idp_households}; displaced people:"
        f" {total.idp_individuals}; returnees: {total.returnees}",
        "",
        "Displaced households and people, per region and type of place:",
    ]
    lines += [
        f"  {label('region', region)} / {label('site_type', kind)}: sites {t.sites},"
        f" households {t.idp_households}, people {t.idp_individuals}"
        for (region, kind), t in figures.by_region_type.items()
    ]
    lines += ["", "Returnees, per region:"]
    lines += [f"  {label('region', r)}: {n}" for r, n in figures.returnees_by_region.items()]
    lines += ["", "Needs cited (sites citing each, first or second):"]
    lines += [f"  {label('need_2', code)}: {n}" for code, n in figures.needs]
    lines += ["", "Sites with no or partial access:"]
    lines += [
        f"  {label('region', region)}: {name} ({label('access', access)})"
        for region, name, access in figures.limited_access
    ] or ["  none"]
    return "\n".join(lines)


def _movement_row(point: str, period: str, movement: Movement) -> str:
    return (
        f"  {point} {period}: {movement.arrivals} in, {movement.departures} out,"
        f" net {movement.net:+d}"
    )


def _labeller(flow: Flow, language: str) -> Callable[[str, str], str]:
    """A function giving an answer code's label in ``language`` (the code if unknown)."""

    def label(key: str, code: str) -> str:
        option = next((o for o in flow.question(key).options if o.code == code), None)
        return localise(option.label, language, flow.default_language) if option else code

    return label
