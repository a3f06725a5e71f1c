"""The new-campaign form: what it offers, how its fields are read, and every problem at once.

A refused form says what is wrong next to each field, all at once, and keeps the list that was
sent with it (``gateway.campaigns.staging``): the page shows the file received and its rows,
and the next try takes it unless another file is chosen. The checks are the campaign domain's
(``gateway.campaigns.definition.check_spec``), the same the API and the CLI meet.
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.campaigns.definition import (
    DEFAULT_THROTTLE,
    DEFAULT_TIMEZONE,
    DEFAULT_WINDOW,
    CampaignSpec,
    check_spec,
)
from gateway.campaigns.staging import ReceivedList
from gateway.campaigns.waves import DEFAULT_REPEAT_DAYS, end_of_day
from gateway.core.i18n import Translatable
from gateway.core.runtime import Runtime
from gateway.web.dashboard.listing import parse_day

FIELDS = (
    "name",
    "flow",
    "channel",
    "start_at",
    "window",
    "timezone",
    "throttle",
    "reminder_count",
    "reminder_interval_hours",
    "expiry_hours",
    "retention_days",
    "repeat_days",
    "repeat_waves",
    "repeat_until",
    "list_token",
)
# Whole numbers of the form, and how the domain names each in its messages.
_WHOLE = {
    "reminder_count": "reminders",
    "reminder_interval_hours": "reminder_interval",
    "expiry_hours": "expiry",
    "retention_days": "retention",
    "repeat_days": "repeat_days",
    "repeat_waves": "repeat_waves",
}
# The IANA areas offered (not the old aliases such as US/Eastern or Etc/GMT+3).
_AREAS = frozenset(
    ("Africa", "America", "Antarctica", "Asia", "Atlantic", "Australia", "Europe", "Indian")
    + ("Pacific",)
)


@dataclass(slots=True)
class FormState:
    """The form as sent: its values, the problems by field (in the reader's language), and
    the list received with it, if any."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    received: ReceivedList | None = None


@functools.cache
def time_zones() -> tuple[str, ...]:
    """The time zones offered: Mali's first, then every IANA zone by name."""
    zones = sorted(z for z in zoneinfo.available_timezones() if z.split("/")[0] in _AREAS)
    return (DEFAULT_TIMEZONE, *(z for z in zones if z != DEFAULT_TIMEZONE), "UTC")


def defaults() -> dict[str, str]:
    """What the form shows before anything is typed."""
    return {
        "window": DEFAULT_WINDOW,
        "timezone": DEFAULT_TIMEZONE,
        "throttle": f"{DEFAULT_THROTTLE:g}",
        "repeat_days": str(DEFAULT_REPEAT_DAYS),
    }


def read_form(
    rt: Runtime, form: Mapping[str, str], language: str
) -> tuple[CampaignSpec, FormState]:
    """The campaign asked for, and every problem with the form's values (not its list)."""
    values = {name: form.get(name, "")[:200] for name in FIELDS}
    state = FormState(values)
    errors: dict[str, Translatable] = {}
    throttle = DEFAULT_THROTTLE
    try:
        # A French user types 0,5 for a half.
        throttle = float((values["throttle"] or str(DEFAULT_THROTTLE)).replace(",", "."))
    except ValueError:
        errors["throttle"] = Translatable("campaign_error.throttle_number")
    start_text = values["start_at"].strip()
    start_at = None
    try:
        start_at = datetime.fromisoformat(start_text) if start_text else None
    except ValueError:
        errors["start_at"] = Translatable("campaign_error.start_at", text=start_text[:20])
    whole: dict[str, int | None] = {}
    for name, what in _WHOLE.items():
        text = values[name].strip()
        try:
            whole[name] = int(text) if text else None
        except ValueError:
            what_text = Translatable(f"campaign_error.what.{what}")
            errors[name] = Translatable("campaigns.form.whole_number", what=what_text)
            whole[name] = None
    until_text = values["repeat_until"].strip()
    repeat_until = None
    try:
        day = parse_day(until_text)
        repeat_until = end_of_day(day) if day is not None else None
    except ValueError:
        errors["repeat_until"] = Translatable("lists.bad_day", text=until_text[:20])
    spec = CampaignSpec(
        name=values["name"],
        flow=values["flow"],
        channel=values["channel"],
        start_at=start_at,
        window=values["window"] or DEFAULT_WINDOW,
        timezone=values["timezone"] or DEFAULT_TIMEZONE,
        throttle=throttle,
        reminder_count=whole["reminder_count"],
        reminder_interval_hours=whole["reminder_interval_hours"],
        expiry_hours=whole["expiry_hours"],
        retention_days=whole["retention_days"],
        repeat_days=whole["repeat_days"],
        repeat_waves=whole["repeat_waves"],
        repeat_until=repeat_until,
    )
    state.errors = {name: problem.in_language(language) for name, problem in errors.items()}
    for name, exc in check_spec(spec, rt.flows, ussd_flow=rt.settings.ussd_flow).items():
        # A USSD campaign's flow is said next to the channel chosen; a repeat's problem next
        # to the number of waves, the field that asks for a repeat.
        shown = {"ussd": "channel", "repeat": "repeat_waves"}.get(name, name)
        state.errors.setdefault(shown, exc.in_language(language))
    return spec, state


def page_values(state: FormState | None) -> dict[str, Any]:
    """What the form's template needs of a state (empty on a first visit)."""
    state = state or FormState({})
    return {"values": state.values, "errors": state.errors, "received": state.received}
