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
- ``optin:<respondent>``          a START the database may not hold yet (a day)
- ``help:<respondent>``           an unprompted help text went out today
- ``smsin:<AT id>``               an inbound SMS already taken (AT retries callbacks)
- ``phone:<respondent>``          the encrypted number queued replies go to (jobs carry ids)
- ``facts``                       set once the protective facts were copied in whole
Respondents appear only as pseudonyms; the number a confirmation goes to is encrypted.

``optout``, ``done`` and ``enumerator`` copy facts whose record is the database: a marker
found is true, but a marker missing is believed only while ``facts`` is set (see
``gateway.surveys.live_facts``); otherwise the store asks the database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import Protocol

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
# Outlives a reply's wait in the queue; once its outbox row exists the number is stored there.
PHONE_TTL = timedelta(days=7)
FACTS_READY_KEY = f"{PREFIX}facts"
# Far longer than the worker recording a START takes, retries included.
OPT_IN_SETTLING = timedelta(days=1)


def optout_key(respondent: str) -> str:
    """The key marking an opt-out (STOP)."""
    return f"{PREFIX}optout:{respondent}"


def optin_key(respondent: str) -> str:
    """The key marking a START the database may not hold yet."""
    return f"{PREFIX}optin:{respondent}"


def done_key(flow_id: str, respondent: str) -> str:
    """The key marking a completed flow; it holds the run's id."""
    return f"{PREFIX}done:{flow_id}:{respondent}"


def enumerator_key(respondent: str) -> str:
    """The key holding an approved enumerator's code."""
    return f"{PREFIX}enumerator:{respondent}"


def phone_key(respondent: str) -> str:
    """The key holding the encrypted number that queued replies to ``respondent`` go to."""
    return f"{PREFIX}phone:{respondent}"


class FactSource(Protocol):
    """Where the protective facts are on record (the database), for when Redis lost them."""

    def opted_out_among(self, respondents: Sequence[str]) -> set[str]:
        """Those of ``respondents`` with an opt-out on record."""
        ...

    def has_completed(self, flow_id: str, respondent: str) -> bool:
        """Whether the respondent's completion of the flow is on record."""
        ...

    def enumerator_code(self, respondent: str) -> str | None:
        """The code of the approved enumerator with this pseudonym, if on record."""
        ...


class RedisSessionStore:
    """The handlers' SessionStore, on Redis."""

    def __init__(
        self, client: redis.Redis, *, session_ttl: int = 600, facts: FactSource | None = None
    ) -> None:
        self.redis = client
        self.session_ttl = session_ttl
        # None only where no database exists (some unit tests): Redis is then all there is.
        self.facts = facts

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
            pipe.set(done_key(state.flow_id, record.respondent), state.run_id)
        pipe.execute()

    def facts_whole(self) -> bool:
        """Whether Redis holds the whole copy of the protective facts (see module docstring)."""
        return self.facts is None or bool(self.redis.exists(FACTS_READY_KEY))

    def _marker(self, key: str) -> tuple[bytes | str | None, bool]:
        """A marker's value and whether the facts' copy is whole, in one round trip."""
        value, ready = self.redis.mget(key, FACTS_READY_KEY)
        return value, ready is not None or self.facts is None

    def has_completed(self, flow_id: str, respondent: str) -> bool:
        """True when the respondent already completed this flow."""
        found, trusted = self._marker(done_key(flow_id, respondent))
        if found is not None or trusted:
            return found is not None
        assert self.facts is not None  # trusted otherwise
        return self.facts.has_completed(flow_id, respondent)

    def language(self, respondent: str) -> str | None:
        """The respondent's chosen language, if they chose one."""
        raw = self.redis.get(f"{PREFIX}lang:{respondent}")
        return _text(raw) if raw else None

    def set_language(self, respondent: str, language: str) -> None:
        """Remember the respondent's language for later surveys and messages."""
        self.redis.set(f"{PREFIX}lang:{respondent}", language)

    def enumerator_code(self, respondent: str) -> str | None:
        """The code of the approved enumerator with this pseudonym, if there is one."""
        raw, trusted = self._marker(enumerator_key(respondent))
        if raw is not None or trusted:
            return _text(raw) if raw else None
        assert self.facts is not None
        return self.facts.enumerator_code(respondent)

    def is_opted_out(self, respondent: str) -> bool:
        """True when the respondent sent STOP and has not sent START since."""
        stop, start, ready = self.redis.mget(
            optout_key(respondent), optin_key(respondent), FACTS_READY_KEY
        )
        if stop is not None or start is not None or ready is not None or self.facts is None:
            # A START newer than the database's record of the STOP wins over it.
            return stop is not None
        return respondent in self.facts.opted_out_among([respondent])

    def opted_out_among(self, respondents: Sequence[str]) -> set[str]:
        """Those of ``respondents`` who opted out, asked in one round trip (for long lists)."""
        pipe = self.redis.pipeline(transaction=False)
        for respondent in respondents:
            pipe.exists(optout_key(respondent))
            pipe.exists(optin_key(respondent))
        pipe.exists(FACTS_READY_KEY)
        *found, ready = pipe.execute()
        stops, starts = found[0::2], found[1::2]
        opted_out = {r for r, hit in zip(respondents, stops, strict=True) if hit}
        if ready or self.facts is None:
            return opted_out
        started = {r for r, hit in zip(respondents, starts, strict=True) if hit}
        return opted_out | (self.facts.opted_out_among(respondents) - started)

    def set_opted_out(self, respondent: str, opted_out: bool) -> None:
        """Record STOP (True) or START (False).

        A START also leaves a mark for a day: until a worker has removed the opt-out from the
        database, a send that finds it there knows a START is on its way, not lost.
        """
        pipe = self.redis.pipeline()
        if opted_out:
            pipe.set(optout_key(respondent), "1")
            pipe.delete(optin_key(respondent))
        else:
            pipe.delete(optout_key(respondent))
            pipe.set(optin_key(respondent), "1", ex=OPT_IN_SETTLING)
        pipe.execute()

    def opt_in_pending(self, respondent: str) -> bool:
        """Whether a START was taken that the database may not hold yet."""
        return bool(self.redis.exists(optin_key(respondent)))

    def keep_phone(self, respondent: str, token: str) -> None:
        """Keep the encrypted number queued replies to ``respondent`` will go to."""
        self.redis.set(phone_key(respondent), token, ex=PHONE_TTL)

    def phone(self, respondent: str) -> str | None:
        """The encrypted number replies to ``respondent`` go to; None once erased or expired."""
        raw = self.redis.get(phone_key(respondent))
        return _text(raw) if raw else None

    def drop_phone(self, respondent: str) -> None:
        """Forget the number replies go to: queued replies then have nobody to go to."""
        self.redis.delete(phone_key(respondent))

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

    def set_enumerator(self, respondent: str, code: str | None) -> None:
        """Mark a pseudonym as an approved enumerator (``code``), or no longer (None)."""
        key = enumerator_key(respondent)
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
