"""A campaign sending window that is open now and stays open while a test runs, at any hour.

A campaign sends only within its daily window, and a window across midnight is refused by
design, so in its time zone's last minute before midnight no window at all is open: a test
using ``00:00-23:59`` would find its campaign closed and its invitations put off to the next
day. Near the end of the day in the campaign's usual time zone, the window is taken in one
twelve hours ahead instead, where it is about midday.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from gateway.campaigns.definition import DEFAULT_TIMEZONE

ALL_DAY = "00:00-23:59"
# Twelve hours ahead of Bamako (the default), and neither keeps summer time.
MIDDAY_AT_MIDNIGHT = "Pacific/Tarawa"
# Longer than any test that sends, on a slow machine.
OPEN_FOR = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class OpenWindow:
    """A campaign's ``window`` and ``timezone``, as the form and the API take them."""

    window: str
    timezone: str


def open_window(now: datetime | None = None, open_for: timedelta = OPEN_FOR) -> OpenWindow:
    """Every hour of the day, in a time zone where the day has ``open_for`` left to run."""
    now = now or datetime.now(UTC)
    for name in (DEFAULT_TIMEZONE, MIDDAY_AT_MIDNIGHT):
        local = now.astimezone(ZoneInfo(name))
        closes = datetime.combine(local.date(), time(23, 59), tzinfo=local.tzinfo)
        if local + open_for < closes:
            return OpenWindow(ALL_DAY, name)
    raise AssertionError(f"no time zone where {ALL_DAY} stays open {open_for} from {now}")
