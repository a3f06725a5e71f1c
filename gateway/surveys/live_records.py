"""How USSD sessions and runs are written in Redis, read back as the handlers' records.

Sessions are compact JSON (the lock's script reads their ``run_id``). Runs are JSON compressed
with zlib and a preset dictionary of a run's field names and usual values (``RUN_DICTIONARY``):
a run is most of what Redis holds per household, about 1.2 KB as JSON once answered; zlib alone
brings a fresh run to about 485 bytes, the dictionary to about 300, since most of what is left
is its ids, encrypted number and times. Runs written as plain JSON or compressed without the
dictionary, before, are still read.
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
        # A stream compressed without the dictionary is read the same way: it asks for none.
        reader = zlib.decompressobj(zdict=RUN_DICTIONARY)
        raw = reader.decompress(raw) + reader.flush()
    data: dict[str, Any] = json.loads(raw)
    return data


def run_raw(data: dict[str, Any]) -> bytes:
    """A run's fields as stored."""
    writer = zlib.compressobj(6, zdict=RUN_DICTIONARY)
    return writer.compress(_dumps(data).encode()) + writer.flush()


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


# The first byte of zlib's output at any level, with a dictionary or not; JSON starts with "{".
_ZLIB = b"x"

# What runs are compressed against: the skeleton of a stored run, its most common parts last
# (zlib finds the nearest copies cheapest). Stored runs need it to be read: NEVER change it.
# (zlib records its checksum in each run: a changed one would fail loudly, not misread.)
RUN_DICTIONARY = (
    b'"completed","expired","dropped","declined","channel":"sms","channel":"ussd+sms",'
    b'"enumerator":"","reminder_count":2,"reminder_interval_s":86400.0,"ending":"completed"'
    b'"return_intention","yes","no","consent","language":"en",'
    b'{"state":{"run_id":"","flow_id":"return_intention","flow_version":1,"language":"fr",'
    b'"status":"active","current":"","path":["consent"],"answers":{},"seq":0,'
    b'"invalid_count":0,"started_at":"2026-","updated_at":"2026-","expires_at":"2026-",'
    b'"ending":null},"respondent":"","channel":"ussd","phone_token":"gAAAAAB",'
    b'"enumerator":null,"reminder_count":null,"reminder_interval_s":null}'
    b'":{"value":"","seq":1,"at":"2026-11-30T00:00:00.000000+00:00"},"'
)


def _dumps(data: dict[str, Any]) -> str:
    # No spaces: Redis holds one of these per household.
    return json.dumps(data, separators=(",", ":"))
