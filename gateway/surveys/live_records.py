"""How USSD sessions and runs are written in Redis: compact JSON, read back as the handlers'
records."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from flows import RunState
from handlers.ports import Household, RunRecord, UssdMode, UssdSession


def session_data(session: UssdSession) -> str:
    """The session as stored."""
    household = session.household
    return _dumps(
        {
            "session_id": session.session_id,
            "respondent": session.respondent,
            "flow_id": session.flow_id,
            "run_id": session.run_id,
            "mode": session.mode.value,
            "page": session.page,
            "last_text": session.last_text,
            "reply": session.reply,
            "household": (
                None
                if household is None
                else {
                    "respondent": household.respondent,
                    "phone_token": household.phone_token,
                    "enumerator": household.enumerator,
                }
            ),
            "hidden": list(session.hidden) if session.hidden else None,
        }
    )


def ussd_session(raw: bytes | str | None) -> UssdSession | None:
    """The stored session, or None."""
    if raw is None:
        return None
    data = json.loads(raw)
    household = data.get("household")
    hidden = data.get("hidden")
    return UssdSession(
        session_id=data["session_id"],
        respondent=data["respondent"],
        flow_id=data["flow_id"],
        run_id=data["run_id"],
        mode=UssdMode(data["mode"]),
        page=int(data["page"]),
        last_text=data["last_text"],
        reply=data["reply"],
        household=(
            Household(household["respondent"], household["phone_token"], household["enumerator"])
            if household
            else None
        ),
        hidden=(int(hidden[0]), int(hidden[1])) if hidden else None,
    )


def run_data(record: RunRecord) -> str:
    """The run as stored."""
    return _dumps(
        {
            "state": record.state.to_dict(),
            "respondent": record.respondent,
            "channel": record.channel,
            "phone_token": record.phone_token,
            "enumerator": record.enumerator,
            "reminder_count": record.reminder_count,
            "reminder_interval_s": (
                record.reminder_interval.total_seconds() if record.reminder_interval else None
            ),
        }
    )


def run_record(raw: bytes | str | None) -> RunRecord | None:
    """The stored run, or None."""
    if raw is None:
        return None
    data = json.loads(raw)
    return RunRecord(
        state=RunState.from_dict(data["state"]),
        respondent=data["respondent"],
        channel=data["channel"],
        phone_token=data["phone_token"],
        enumerator=data.get("enumerator"),
        reminder_count=data.get("reminder_count"),
        reminder_interval=(
            timedelta(seconds=data["reminder_interval_s"])
            if data.get("reminder_interval_s")
            else None
        ),
    )


def _dumps(data: dict[str, Any]) -> str:
    # No spaces: Redis holds one of these per household.
    return json.dumps(data, separators=(",", ":"))
