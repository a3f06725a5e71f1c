"""What the campaign pages show: the list with each campaign's responses, and one campaign's
counts, funnel, progress by region and day, and the report of its last list.

Only reading: the counts come from ``gateway.campaigns.progress`` and ``.breakdown``. Counts by
region are answers, so small ones are hidden by the rule the results pages follow
(``gateway.results.suppression``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flows.model import localise
from gateway.campaigns.breakdown import REGION_KEY, Day, WaveCounts, by_day, by_region, by_wave
from gateway.campaigns.definition import find_campaign, zone
from gateway.campaigns.imports import invalid_rows, latest_import, problem_text, rows_read
from gateway.campaigns.models import Campaign, CampaignImport, ImportStatus
from gateway.campaigns.progress import (
    Listed,
    Progress,
    progress,
    shown_status,
)
from gateway.campaigns.progress import listing as campaign_listing
from gateway.campaigns.services import keep_import_going
from gateway.campaigns.waves import is_repeating
from gateway.core.clock import utc_now
from gateway.core.runtime import Runtime
from gateway.results.suppression import DEFAULT_K, suppress

LIST_ROWS = 50
# Invalid rows listed on the page; the rest are counted (the page must stay small).
REPORT_ROWS = 50
# The funnel's steps, each a count of ``Progress``: invited is "sent".
FUNNEL = ("sent", "delivered", "started", "completed")


@dataclass(frozen=True, slots=True)
class RegionRow:
    """A region's line: its label, and its counts as shown ("12", "<5" or "x")."""

    label: str
    started: str
    completed: str


@dataclass(frozen=True, slots=True)
class CampaignView:
    """One campaign's page."""

    campaign: Campaign
    counts: Progress
    status: str
    report: dict[str, Any]
    regions: list[RegionRow] | None = None
    days: list[Day] = field(default_factory=list)
    # A repeating campaign's waves, the first first; empty for a one-shot campaign.
    waves: list[WaveCounts] = field(default_factory=list)

    @property
    def window(self) -> str:
        """The daily sending hours, as staff typed them (08:00-19:00)."""
        return f"{self.campaign.window_start:%H:%M}-{self.campaign.window_end:%H:%M}"

    @property
    def next_wave_day(self) -> date | None:
        """The day the next wave opens, in the campaign's time zone; None if none is to come."""
        moment = self.campaign.next_wave_at
        return None if moment is None else moment.astimezone(zone(self.campaign.timezone)).date()

    @property
    def funnel(self) -> list[tuple[str, int]]:
        """Invited, delivered, started, completed: each step's count."""
        values = self.counts.as_dict()
        return [(step, values[step]) for step in FUNNEL]


def listing(rt: Runtime) -> list[Listed]:
    """The newest campaigns with their invitation and response counts."""
    with rt.sessions() as session:
        return campaign_listing(session, utc_now(), LIST_ROWS)


def import_state(rt: Runtime, found: CampaignImport | None, language: str) -> dict[str, Any]:
    """The campaign's last import for its page: status, rows read, the report or the reason.

    Invalid rows are ``(row number, reason)``, the reason in ``language``.
    """
    if found is None:
        return {"status": None}
    return {
        "status": found.status.value,
        "pending": found.status in (ImportStatus.QUEUED, ImportStatus.RUNNING),
        "rows": rows_read(rt, found),
        "accepted": found.accepted,
        "duplicates": found.duplicates,
        "opted_out": found.opted_out,
        "invalid_count": found.invalid_count,
        "invalid": invalid_rows(found, language)[:REPORT_ROWS],
        "problem": problem_text(found, language),
    }


def campaign_view(rt: Runtime, ident: str, language: str) -> CampaignView:
    """The campaign's page now; CampaignError when there is no such campaign."""
    with rt.sessions() as session:
        campaign = find_campaign(session, ident)
        found = latest_import(session, campaign.id)
        if found is not None:
            keep_import_going(rt, found)
        counts = progress(session, campaign, utc_now())
        return CampaignView(
            campaign,
            counts,
            shown_status(campaign, counts.answering),
            import_state(rt, found, language),
            _regions(rt, session, campaign, language),
            by_day(session, campaign),
            by_wave(session, campaign) if is_repeating(campaign) else [],
        )


def _regions(
    rt: Runtime, session: Any, campaign: Campaign, language: str
) -> list[RegionRow] | None:
    """The runs by region, with the flow's labels, small counts hidden; None when the flow
    asks no region."""
    flow = rt.flows.get(campaign.flow)
    if flow is None or REGION_KEY not in flow.question_keys:
        return None
    labels = {
        option.code: localise(option.label, language, flow.default_language)
        for option in flow.question(REGION_KEY).options
    }
    rows = by_region(session, campaign)
    started = _shown([row.started for row in rows])
    completed = _shown([row.completed for row in rows])
    return [
        RegionRow(labels.get(row.region, row.region), s, c)
        for row, s, c in zip(rows, started, completed, strict=True)
    ]


def _shown(counts: list[int]) -> list[str]:
    """Counts as a published table shows them: under 5 as "<5", a give-away one as "x"."""
    plan = suppress(counts, DEFAULT_K, partition=True)
    marks = {"small": f"<{DEFAULT_K}", "complementary": "x"}
    return [
        str(count) if mark is None else marks[mark]
        for count, mark in zip(counts, plan.marks, strict=True)
    ]
