"""The headline report as plain-text tables, for ``survey-gateway report`` and e-mails.

Only what the report holds is printed: a suppressed cell has no number to print, so it shows
as ``<5`` (fewer than k households) or ``x`` (hidden so a small cell cannot be worked out).
"""

from __future__ import annotations

from gateway.results.export import iso_utc
from gateway.results.report import HeadlineReport, ReportTable

_WORDS: dict[str, dict[str, str]] = {
    "fr": {
        "households": "ménages",
        "people": "personnes",
        "share": "part",
        "completed": "questionnaires complets",
        "period": "période",
        "campaign": "campagne",
        "all": "Total",
        "overlap": "un ménage peut citer deux besoins: les parts ne font pas 100 %",
        "small": "moins de {k} ménages, masqué",
        "complementary": "masqué pour qu'une petite case ne se déduise pas du total",
    },
    "en": {
        "households": "households",
        "people": "people",
        "share": "share",
        "completed": "completed surveys",
        "period": "period",
        "campaign": "campaign",
        "all": "Total",
        "overlap": "a household may cite two needs: shares do not add up to 100%",
        "small": "fewer than {k} households, hidden",
        "complementary": "hidden so that a small cell cannot be worked out from the total",
    },
}


def report_text(report: HeadlineReport) -> str:
    """The report as text: a heading, then each table with households, share and people."""
    words = _WORDS.get(report.language, _WORDS["en"])
    chosen = report.selection
    start = iso_utc(chosen.since)[:10] if chosen.since else "…"
    end = iso_utc(chosen.until) if chosen.until else "…"
    lines = [
        f"{report.flow_name} ({report.flow})",
        f"{words['completed']}: {_count(report.households, report.k)} {words['households']}, "
        f"{_count(report.people, report.k)} {words['people']}",
        f"{words['period']}: {start} – {end}" if chosen.since or chosen.until else "",
        f"{words['campaign']}: {chosen.campaign_id}" if chosen.campaign_id else "",
    ]
    lines = [line for line in lines if line]
    for table in report.tables:
        lines += ["", *_table_lines(table, words, report.k)]
    lines += [
        "",
        f"<{report.k}: {words['small'].format(k=report.k)}",
        f"x: {words['complementary']}",
    ]
    return "\n".join(lines)


def _table_lines(table: ReportTable, words: dict[str, str], k: int) -> list[str]:
    header = [table.title.upper(), words["households"].upper(), words["share"].upper()]
    if table.with_people:
        header.append(words["people"].upper())
    rows = [header]
    for item in table.rows:
        cells = [item.label, item.display, "" if item.share is None else f"{item.share:.1f}%"]
        if table.with_people:
            cells.append("" if item.people is None else str(item.people))
        rows.append(cells)
    total = [words["all"], _count(table.households, k), ""]
    if table.with_people:
        total.append(_count(table.people, k))
    rows.append(total)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    if table.overlapping:
        lines.append(f"({words['overlap']})")
    return lines


def _count(value: int | None, k: int) -> str:
    return f"<{k}" if value is None else str(value)
