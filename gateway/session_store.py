"""Live conversation state in Redis: USSD sessions, runs, and what each respondent did.

Keys (all under ``sg:``):
- ``ussd:<sessionId>``  the AT session: last text and last screen (for replays), short TTL
- ``run:<runId>``       a run record; kept a week past the run's expiry so workers can read it
- ``active:<flow>:<respondent>``  the run a respondent can resume, until the flow's expiry
- ``done:<flow>:<respondent>``    set once the respondent completed the flow
- ``lang:<respondent>``           the language the respondent chose
- ``enumerator:<respondent>``     the code of an approved enumerator
Respondents appear only as pseudonyms; the number a confirmation goes to is encrypted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import redis

from flows import RunState, RunStatus
from handlers.ports import RunRecord, UssdMode, UssdSession

PREFIX = "sg:"
RUN_KEEP_AFTER_EXPIRY = timedelta(days=7)
LOCK_TIMEOUT_S = 5
LOCK_WAIT_S = 3


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
        }
        left = max(state.expires_at - state.updated_at, timedelta(seconds=1))
        active_key = f"{PREFIX}active:{state.flow_id}:{record.respondent}"
        pipe = self.redis.pipeline()
        pipe.set(f"{PREFIX}run:{state.run_id}", json.dumps(data), ex=left + RUN_KEEP_AFTER_EXPIRY)
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

    def set_enumerator(self, respondent: str, code: str | None) -> None:
        """Mark a pseudonym as an approved enumerator (``code``), or no longer (None)."""
        key = f"{PREFIX}enumerator:{respondent}"
        if code is None:
            self.redis.delete(key)
        else:
            self.redis.set(key, code)


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw
