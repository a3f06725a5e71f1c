"""How USSD sessions and runs are written in Redis, read back as the handlers' records.

Sessions are compact JSON (the lock's script reads their ``run_id``). Runs are JSON compressed
with zlib: a run is most of what Redis holds per household (about 1.2 KB as JSON once answered,
half that compressed). A run written as plain JSON before is still read.
"""

from __future__ import annotations

import json
import zlib
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


def run_data(record: RunRecord) -> bytes:
    """The run as stored."""
    return run_raw(
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


def run_json(raw: bytes | str) -> dict[str, Any]:
    """A stored run's fields."""
    if isinstance(raw, bytes) and raw[:1] == _ZLIB:
        raw = zlib.decompress(raw)
    data: dict[str, Any] = json.loads(raw)
    return data


def run_raw(data: dict[str, Any]) -> bytes:
    """A run's fields as stored."""
    return zlib.compress(_dumps(data).encode(), 6)


def run_record(raw: bytes | str | None) -> RunRecord | None:
    """The stored run, or None."""
    if raw is None:
        return None
    data = run_json(raw)
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


# The first byte of zlib's output at any level; JSON starts with "{".
_ZLIB = b"x"


def _dumps(data: dict[str, Any]) -> str:
    # No spaces: Redis holds one of these per household.
    return json.dumps(data, separators=(",", ":"))
