"""Live conversation state in Redis: USSD sessions, runs, and what each respondent did.

Keys (all under ``sg:``):
- ``ussd:<sessionId>``  the AT session: last text and last screen (for replays), short TTL
- ``run:<runId>``       a run record; kept a week past the run's expiry so workers can read it
- ``active:<flow>:<respondent>``  the run a respondent can resume, until the flow's expiry
- ``done:<flow>:<respondent>``    set once the respondent completed the flow
- ``lang:<respondent>``           the language the respondent chose
- ``enumerator:<respondent>``     the code of an approved enumerator
- ``runs:<respondent>``           the ids of the respondent's runs (for erasure)
- ``optout:<respondent>``         set by STOP, removed by START
- ``help:<respondent>``           an unprompted help text went out today
- ``smsin:<AT id>``               an inbound SMS already taken (AT retries callbacks)
Respondents appear only as pseudonyms; the number a confirmation goes to is encrypted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta

import redis

from flows import RunState, RunStatus
from handlers.ports import Household, RunRecord, UssdMode, UssdSession

PREFIX = "sg:"
RUN_KEEP_AFTER_EXPIRY = timedelta(days=7)
LOCK_TIMEOUT_S = 5
LOCK_WAIT_S = 3
HELP_EVERY_S = 24 * 3600
# Outlives every run record it points to (runs are kept their expiry plus a week).
RUNS_INDEX_TTL = timedelta(days=90)


class RedisSessionStore:
    """The handlers' SessionStore, on Redis."""

    def __init__(self, client: redis.Redis, *, session_ttl: int = 600) -> None:
        self.redis = client
        self.session_ttl = session_ttl

    @contextmanager
    def lock(self, respondent: str) -> Iterator[None]:
        """Serialise requests of one respondent (AT retries can overlap the original)."""
        with self.redis.lock(
            f"{PREFIX}lock:{respondent}", timeout=LOCK_TIMEOUT_S, blocking_timeout=LOCK_WAIT_S
        ):
            yield

    def load_session(self, session_id: str) -> UssdSession | None:
        """The USSD session, or None when unknown or expired."""
        raw = self.redis.get(f"{PREFIX}ussd:{session_id}")
        if raw is None:
            return None
        data = json.loads(raw)
        return UssdSession(
            session_id=data["session_id"],
            respondent=data["respondent"],
            flow_id=data["flow_id"],
            run_id=data["run_id"],
            mode=UssdMode(data["mode"]),
            page=int(data["page"]),
            last_text=data["last_text"],
            reply=data["reply"],
            household=_household(data.get("household")),
            hidden=(int(data["hidden"][0]), int(data["hidden"][1])) if data.get("hidden") else None,
        )

    def save_session(self, session: UssdSession) -> None:
        """Keep the USSD session for the next request of the same AT session."""
        data = {
            "session_id": session.session_id,
            "respondent": session.respondent,
            "flow_id": session.flow_id,
            "run_id": session.run_id,
            "mode": session.mode.value,
            "page": session.page,
            "last_text": session.last_text,
            "reply": session.reply,
            "household": _household_data(session.household),
            "hidden": list(session.hidden) if session.hidden else None,
        }
        self.redis.set(f"{PREFIX}ussd:{session.session_id}", json.dumps(data), ex=self.session_ttl)

    def load_run(self, run_id: str) -> RunRecord | None:
        """A run by id, or None when unknown or past its keeping time."""
        raw = self.redis.get(f"{PREFIX}run:{run_id}")
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

    def active_run(self, flow_id: str, respondent: str) -> RunRecord | None:
        """The respondent's unfinished run of a flow, if one can still be resumed."""
        run_id = self.redis.get(f"{PREFIX}active:{flow_id}:{respondent}")
        return self.load_run(_text(run_id)) if run_id else None

    def save_run(self, record: RunRecord) -> None:
        """Store a run; an ended run stops being the respondent's active run."""
        state = record.state
        data = {
            "state": state.to_dict(),
            "respondent": record.respondent,
            "channel": record.channel,
            "phone_token": record.phone_token,
            "enumerator": record.enumerator,
            "reminder_count": record.reminder_count,
            "reminder_interval_s": (
                record.reminder_interval.total_seconds() if record.reminder_interval else None
            ),
        }
        left = max(state.expires_at - state.updated_at, timedelta(seconds=1))
        keep = left + RUN_KEEP_AFTER_EXPIRY
        active_key = f"{PREFIX}active:{state.flow_id}:{record.respondent}"
        runs_key = f"{PREFIX}runs:{record.respondent}"
        pipe = self.redis.pipeline()
        pipe.set(f"{PREFIX}run:{state.run_id}", json.dumps(data), ex=keep)
        # An index of the respondent's runs, so erasure can find every one of them.
        pipe.sadd(runs_key, state.run_id)
        pipe.expire(runs_key, max(keep, RUNS_INDEX_TTL))
        if state.is_active:
            pipe.set(active_key, state.run_id, ex=left)
        else:
            # Only the run that ended stops being active; a newer run keeps its pointer.
            current = self.redis.get(active_key)
            if current is not None and _text(current) == state.run_id:
                pipe.delete(active_key)
        if state.status is RunStatus.COMPLETED:
            pipe.set(f"{PREFIX}done:{state.flow_id}:{record.respondent}", state.run_id)
        pipe.execute()

    def has_completed(self, flow_id: str, respondent: str) -> bool:
        """True when the respondent already completed this flow."""
        return bool(self.redis.exists(f"{PREFIX}done:{flow_id}:{respondent}"))

    def language(self, respondent: str) -> str | None:
        """The respondent's chosen language, if they chose one."""
        raw = self.redis.get(f"{PREFIX}lang:{respondent}")
        return _text(raw) if raw else None

    def set_language(self, respondent: str, language: str) -> None:
        """Remember the respondent's language for later surveys and messages."""
        self.redis.set(f"{PREFIX}lang:{respondent}", language)

    def enumerator_code(self, respondent: str) -> str | None:
        """The code of the approved enumerator with this pseudonym, if there is one."""
        raw = self.redis.get(f"{PREFIX}enumerator:{respondent}")
        return _text(raw) if raw else None

    def is_opted_out(self, respondent: str) -> bool:
        """True when the respondent sent STOP and has not sent START since."""
        return bool(self.redis.exists(f"{PREFIX}optout:{respondent}"))

    def opted_out_among(self, respondents: Sequence[str]) -> set[str]:
        """Those of ``respondents`` who opted out, asked in one round trip (for long lists)."""
        pipe = self.redis.pipeline(transaction=False)
        for respondent in respondents:
            pipe.exists(f"{PREFIX}optout:{respondent}")
        return {r for r, found in zip(respondents, pipe.execute(), strict=True) if found}

    def set_opted_out(self, respondent: str, opted_out: bool) -> None:
        """Record STOP (True) or START (False)."""
        if opted_out:
            self.redis.set(f"{PREFIX}optout:{respondent}", "1")
        else:
            self.redis.delete(f"{PREFIX}optout:{respondent}")

    def claim_help(self, respondent: str) -> bool:
        """True at most once a day per respondent: whether an unprompted help text may go."""
        return bool(self.redis.set(f"{PREFIX}help:{respondent}", "1", nx=True, ex=HELP_EVERY_S))

    def forget(self, respondent: str) -> None:
        """Erase the respondent's live state: runs, markers and language.

        The opt-out stays: erasing one's data is not asking to be messaged again.
        """
        runs_key = f"{PREFIX}runs:{respondent}"
        run_ids = [_text(r) for r in self.redis.smembers(runs_key)]
        keys = [f"{PREFIX}run:{run_id}" for run_id in run_ids]
        keys += [_text(k) for k in self.redis.scan_iter(f"{PREFIX}active:*:{respondent}")]
        keys += [_text(k) for k in self.redis.scan_iter(f"{PREFIX}done:*:{respondent}")]
        # The per-number rate counters stay: they hold only the pseudonym and expire within a
        # day, and dropping them would let EFFACER reset the limits (a flood of paid replies).
        keys += [runs_key, f"{PREFIX}lang:{respondent}", f"{PREFIX}help:{respondent}"]
        self.redis.delete(*keys)

    def over_limit(self, respondent: str, channel: str, limit: int, window_s: int) -> bool:
        """Count one request of ``respondent``; True once more than ``limit`` in the window."""
        key = f"{PREFIX}rate:{channel}:{respondent}"
        pipe = self.redis.pipeline()
        pipe.incr(key)
        pipe.ttl(key)
        count, ttl = pipe.execute()
        if ttl < 0:
            # First request of the window (or a key left without expiry): start the window.
            self.redis.expire(key, window_s)
        return int(count) > limit

    def run_ids(self) -> list[str]:
        """The ids of every run kept in live state (for key rotation)."""
        return [_text(k).split(":", 2)[2] for k in self.redis.scan_iter(f"{PREFIX}run:*")]

    def replace_phone_token(self, run_id: str, token: str) -> None:
        """Store a run's number re-encrypted under another key, keeping its time to live."""
        key = f"{PREFIX}run:{run_id}"
        raw = self.redis.get(key)
        if raw is None:
            return
        data = json.loads(raw)
        data["phone_token"] = token
        self.redis.set(key, json.dumps(data), keepttl=True)

    def set_enumerator(self, respondent: str, code: str | None) -> None:
        """Mark a pseudonym as an approved enumerator (``code``), or no longer (None)."""
        key = f"{PREFIX}enumerator:{respondent}"
        if code is None:
            self.redis.delete(key)
        else:
            self.redis.set(key, code)


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


def _household(data: dict[str, str] | None) -> Household | None:
    if not data:
        return None
    return Household(data["respondent"], data["phone_token"], data["enumerator"])


def _household_data(household: Household | None) -> dict[str, str] | None:
    if household is None:
        return None
    return {
        "respondent": household.respondent,
        "phone_token": household.phone_token,
        "enumerator": household.enumerator,
    }
