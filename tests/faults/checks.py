"""The checks: what the households, the fake AT's log and the database say, against bounds.

Each check is one row of the results table: a figure, the bound it must keep, and PASS or
FAIL (INFO for figures reported without a bound, SKIP when there was nothing to measure).
Numbers never appear: only counts and seconds.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tests.at_server import ReceivedRequest
from tests.faults.scenario import STOP_CONFIRMATION, Fault, Observed
from tests.faults.traffic import CallbackStats

RESUME_BOUND_S = 30.0
# Sends are timed where they arrive, at the fake AT, a few milliseconds after the gateway's
# limiter let them go; that transit varies. Counting within 1 s less this allowance keeps a
# limiter spacing sends exactly 1/throttle apart from being failed by a late arrival.
TRANSIT_ALLOWANCE_S = 0.05


@dataclass(frozen=True, slots=True)
class Check:
    """One row of the results table."""

    name: str
    figure: str
    bound: str
    verdict: str  # PASS, FAIL, INFO or SKIP

    @property
    def failed(self) -> bool:
        """Whether this row fails the run."""
        return self.verdict == "FAIL"


def verdict(ok: bool) -> str:
    """PASS or FAIL."""
    return "PASS" if ok else "FAIL"


def lost_answers(confirmed: Sequence[str], stored: set[str] | None) -> Check:
    """Households shown the closing thanks whose completed submission is not in the database."""
    name = "USSD answers confirmed but not stored"
    if stored is None:
        return Check(name, "database unreadable", "0", "FAIL")
    lost = len(set(confirmed) - stored)
    return Check(name, f"{lost} of {len(confirmed)} confirmed", "0", verdict(lost == 0))


def texted_twice(requests: Iterable[ReceivedRequest]) -> Check:
    """Numbers AT may have texted the same message more than once."""
    seen = Counter(
        (r.form.get("to", ""), r.form.get("message", "")) for r in requests if r.may_have_gone_out
    )
    numbers = {to for (to, _), n in seen.items() if n > 1}
    return Check("numbers texted the same SMS twice", str(len(numbers)), "0", verdict(not numbers))


def opted_out_texted(
    name: str,
    requests: Iterable[ReceivedRequest],
    opted_out: frozenset[str],
    since: float,
    until: float | None = None,
) -> Check:
    """Opted-out numbers sent anything but their STOP confirmation in [since, until)."""
    texted = {
        r.form.get("to", "")
        for r in requests
        if r.form.get("to") in opted_out
        and r.received_at >= since
        and (until is None or r.received_at < until)
        and not r.form.get("message", "").startswith(STOP_CONFIRMATION)
    }
    figure = f"{len(texted)} of {len(opted_out)}"
    return Check(name, figure, "0", verdict(not texted))


def peak_rate(
    requests: Iterable[ReceivedRequest],
    numbers: frozenset[str],
    throttle: float,
    since: float = 0.0,
    until: float = math.inf,
) -> Check:
    """The most requests for these numbers AT got in [since, until) within any second, and when."""
    times = sorted(
        r.received_at
        for r in requests
        if r.form.get("to") in numbers and since <= r.received_at < until
    )
    span = 1.0 - TRANSIT_ALLOWANCE_S
    peak, peak_at = 0, 0.0
    start = 0
    for end, moment in enumerate(times):
        while times[start] < moment - span:
            start += 1
        if end - start + 1 > peak:
            peak, peak_at = end - start + 1, moment
    bound = math.floor(throttle)
    figure = f"{peak} at {clock(peak_at)}" if peak > bound else str(peak)
    return Check(
        "peak campaign sends in any 1 s at AT",
        figure,
        f"<= {bound} (throttle)",
        verdict(peak <= bound),
    )


def clock(moment: float) -> str:
    """A ``time.monotonic()`` moment as the wall-clock time the progress lines show."""
    return time.strftime("%H:%M:%S", time.localtime(moment + time.time() - time.monotonic()))


def resumed(
    fault: Fault,
    next_began: float | None,
    requests: Sequence[ReceivedRequest],
    campaign: frozenset[str],
) -> Check:
    """Seconds from the fault's end to the first campaign SMS AT took, before the next fault."""
    name = f"sending resumed after: {fault.name}"
    bound = f"<= {RESUME_BOUND_S:.0f} s"
    if not fault.campaign_pending:
        return Check(name, "campaign already over", bound, "SKIP")
    after = [
        r.received_at
        for r in requests
        if r.answer == "sent"
        and r.form.get("to") in campaign
        and fault.ended <= r.received_at < (next_began or math.inf)
    ]
    if after:
        seconds = min(after) - fault.ended
        return Check(name, f"{seconds:.1f} s", bound, verdict(seconds <= RESUME_BOUND_S))
    if next_began is None:
        return Check(name, "never", bound, "FAIL")
    waited = next_began - fault.ended
    return Check(name, f"> {waited:.0f} s", bound, "FAIL" if waited > RESUME_BOUND_S else "SKIP")


def callbacks(stats: CallbackStats) -> list[Check]:
    """HTTP 5xx served to AT's callbacks, and what AT had to retry or give up on."""
    ussd = stats.server_errors["/ussd"]
    sms = stats.server_errors["/sms/inbound"] + stats.server_errors["/sms/delivery"]
    sms_total = stats.requests["/sms/inbound"] + stats.requests["/sms/delivery"]
    unanswered = sum(stats.unanswered.values())
    return [
        Check(
            "HTTP 5xx to USSD callbacks",
            f"{ussd} of {stats.requests['/ussd']}",
            "0",
            verdict(ussd == 0),
        ),
        Check(
            "HTTP 5xx (not 503) to SMS callbacks", f"{sms} of {sms_total}", "0", verdict(sms == 0)
        ),
        Check("HTTP 503 to SMS callbacks (AT retries)", str(stats.retried_503), "-", "INFO"),
        Check(
            "SMS callbacks AT gave up retrying",
            str(stats.given_up),
            "0",
            verdict(stats.given_up == 0),
        ),
        Check("callbacks with no HTTP answer", str(unanswered), "0", verdict(unanswered == 0)),
        Check('USSD "service unavailable" screens', str(stats.unavailable_screens), "-", "INFO"),
    ]


def campaign_finished(name: str, done: bool, counts: Counter[str] | None, status: str) -> Check:
    """Every contact in a final state and the campaign completed."""
    if counts is None:
        return Check(name, "database unreadable", "all final, completed", "FAIL")
    total = sum(counts.values())
    final = sum(counts[s] for s in ("sent", "failed", "opted_out", "skipped"))
    figure = f"{final}/{total} final, {status}"
    return Check(name, figure, "all final, completed", verdict(done))


def households(confirmed: int, redials: int, gave_up: int) -> Check:
    """How the USSD households fared (a household gives up after 15 dials cut off)."""
    figure = f"{confirmed} confirmed, {redials} redials, {gave_up} gave up"
    return Check("USSD households", figure, "-", "INFO")


def collect(
    observed: Observed,
    requests: Sequence[ReceivedRequest],
    confirmed: Sequence[str],
    stored: set[str] | None,
    dials: tuple[int, int],
    stats: CallbackStats,
    worker_exits: tuple[int, int],
    campaigns: dict[str, tuple[str, Counter[str]] | None],
) -> list[Check]:
    """Every check of the run, in table order."""
    rows = [
        lost_answers(confirmed, stored),
        households(len(confirmed), *dials),
        texted_twice(requests),
    ]
    first, second = observed.campaign, observed.second
    if first is not None:
        rows.append(
            opted_out_texted(
                "opted-out numbers texted (not STOP reply)",
                requests,
                observed.opted_out,
                since=0.0,
                until=observed.wiped_at,
            )
        )
    if second is not None and observed.wiped_at is not None:
        rows.append(
            opted_out_texted(
                "opted-out texted after FLUSHALL",
                requests,
                observed.opted_out,
                since=observed.wiped_at,
            )
        )
    if first is not None:
        # Invitations only: the opted-out numbers' STOP confirmations (a burst, before the
        # start) and their texts after the wipe are not the campaign's.
        invited = first.numbers - observed.opted_out
        until = observed.wiped_at or math.inf
        rows.append(peak_rate(requests, invited, first.throttle, first.started, until))
        faults = observed.faults
        for fault, following in zip(faults, [*faults[1:], None], strict=True):
            began = following.started if following is not None else None
            rows.append(resumed(fault, began, requests, invited))
    rows += callbacks(stats)
    exits, kills = worker_exits
    figure = f"{exits} ({kills} SIGKILL by the suite)"
    rows.append(Check("worker exits (restarted by the keeper)", figure, "-", "INFO"))
    for label, sent, done in (
        ("campaign: every contact final", first, observed.campaign_done),
        ("after wipe: campaign finished", second, observed.second_done),
    ):
        if sent is not None:
            state = campaigns.get(sent.campaign_id)
            status, counts = state if state is not None else ("?", None)
            rows.append(campaign_finished(label, done, counts, status))
    return rows


def table(rows: Sequence[Check]) -> str:
    """The results as a fixed-width text table."""
    header = ("check", "figure", "bound", "result")
    lines = [header, *((r.name, r.figure, r.bound, r.verdict) for r in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(4)]

    def fmt(line: tuple[str, ...]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))

    rule_cells = tuple("-" * w for w in widths)
    return "\n".join(fmt(line).rstrip() for line in [header, rule_cells, *lines[1:]])
