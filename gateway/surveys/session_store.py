"""Live conversation state in Redis: USSD sessions, runs, and what each respondent did.

Keys (all under ``sg:``):
- ``ussd:<sessionId>``  the AT session: last text and last screen (for replays), short TTL
- ``run:<runId>``       a run record; kept a week past the run's expiry so workers can read it
- ``r:<respondent>``              the respondent's runs, in one small hash (stored packed): a
  field per run id (for erasure), and ``a:<flow>`` = ``<run id> <until>``, the run the
  respondent can resume, until the run's expiry (``until``, Unix seconds). Before, these were
  the set ``runs:<respondent>`` and the string ``active:<flow>:<respondent>``, ~500 bytes
  where the hash takes ~250; both are still read
- ``done:<flow>:<respondent>``    set once the respondent completed the flow
- ``lang:<respondent>``           the language the respondent chose
- ``enumerator:<respondent>``     the code of an approved enumerator
- ``optout:<respondent>``         set by STOP, removed by START
- ``optin:<respondent>``          a START the database may not hold yet (a day)
- ``help:<respondent>``           an unprompted help text went out today
- ``smsin:<AT id>``               an inbound SMS already taken (AT retries callbacks)
- ``phone:<respondent>``          the encrypted number queued replies go to (jobs carry ids)
- ``facts``                       set once the protective facts were copied in whole
- ``dirty``                       runs changed since the database stored them (a sorted set)
- ``reminders``                   when each waiting run's next reminder is due (a sorted set),
  and ``reminder:steps``          which question and which reminder it is (a hash)
Respondents appear only as pseudonyms; the number a confirmation goes to is encrypted.

``optout``, ``done`` and ``enumerator`` copy facts whose record is the database: a marker
found is true, but a marker missing is believed only while ``facts`` is set (see
``gateway.surveys.live_facts``); otherwise the store asks the database.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import redis
from redis.client import Pipeline
from redis.typing import EncodableT, FieldT

from flows import RunStatus
from gateway.surveys.live_batch import (
    RELEASE,
    Refused,
    StepBatch,
    acquire,
    flush,
    mark_dirty,
)
from gateway.surveys.live_keys import (
    FACTS_READY_KEY,
    PREFIX,
    FactSource,
    again_key,
    done_key,
    enumerator_key,
    phone_key,
    rate_key,
    runs_key,
)
from gateway.surveys.live_optouts import OptOutMarkers
from gateway.surveys.live_records import (
    run_data,
    run_record,
    session_data,
    ussd_session,
)
from gateway.surveys.pending_work import REMINDER_STEPS_KEY, REMINDERS_KEY, reminder_score
from handlers.ports import OverLimit, RateLimit, RunRecord, UssdSession

RUN_KEEP_AFTER_EXPIRY = timedelta(days=7)
LOCK_TIMEOUT_S = 5
LOCK_WAIT_S = 3
HELP_EVERY_S = 24 * 3600
# Outlives every run record it points to (runs are kept their expiry plus a week).
RUNS_INDEX_TTL = timedelta(days=90)
# Outlives a reply's wait in the queue; once its outbox row exists the number is stored there.
PHONE_TTL = timedelta(days=7)
# Drops the active-run field ARGV[1] of the hash KEYS[1] if it still names run ARGV[2].
_RELEASE_ACTIVE = """
local pointer = redis.call('HGET', KEYS[1], ARGV[1])
if pointer and string.sub(pointer, 1, #ARGV[2] + 1) == ARGV[2] .. ' ' then
    return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
"""
# Counts a request in KEYS[1]; the first of a window (or a key left without expiry) starts it.
_COUNT_IN_WINDOW = """
local count = redis.call('INCR', KEYS[1])
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""


class RedisSessionStore(OptOutMarkers):
    """The handlers' SessionStore, on Redis."""

    def __init__(
        self, client: redis.Redis, *, session_ttl: int = 600, facts: FactSource | None = None
    ) -> None:
        self.redis = client
        self.session_ttl = session_ttl
        # None only where no database exists (some unit tests): Redis is then all there is.
        self.facts = facts
        # The batch of the request this thread is serving under a lock (see live_batch).
        self._local = threading.local()
        self._count_in_window = client.register_script(_COUNT_IN_WINDOW)

    @contextmanager
    def lock(
        self, respondent: str, session_id: str | None = None, rate: RateLimit | None = None
    ) -> Iterator[None]:
        """Serialise requests of one respondent (AT retries can overlap the original).

        The USSD session ``session_id`` and its run are read with the lock, and the writes
        made inside wait to go with the unlock: two round trips in all (``live_batch``).
        ``rate`` is counted in the first of them; past it, ``OverLimit`` is raised.
        """
        key = f"{PREFIX}lock:{respondent}"
        outer = self._batch()
        if outer is not None:
            # Another respondent's lock inside this request's (an enumerator surveying a
            # household): let go with the outer request's writes, not before them.
            token, _ = acquire(self.redis, key, timeout_s=LOCK_TIMEOUT_S, wait_s=LOCK_WAIT_S)
            outer.inner_locks.append((key, token))
            yield
            return
        session_key = f"{PREFIX}ussd:{session_id}" if session_id else None
        counted = None
        if rate is not None:
            counted = (rate_key(rate.channel, respondent), rate.limit, rate.window_s)
        try:
            token, read = acquire(
                self.redis,
                key,
                timeout_s=LOCK_TIMEOUT_S,
                wait_s=LOCK_WAIT_S,
                session_key=session_key,
                run_prefix=f"{PREFIX}run:",
                rate=counted,
            )
        except Refused as exc:
            raise OverLimit(rate) from exc
        batch = StepBatch()
        if session_id:
            session_raw = read[0] if read else None
            batch.sessions[session_id] = session_raw
            if session_raw is not None and read[1] is not None:
                batch.runs[json.loads(session_raw)["run_id"]] = read[1]
        self._local.batch = batch
        try:
            yield
        finally:
            self._local.batch = None
            flush(self.redis, batch, key, token)

    def _batch(self) -> StepBatch | None:
        batch: StepBatch | None = getattr(self._local, "batch", None)
        return batch

    def _write(self, write: Callable[[Pipeline], Any]) -> None:
        """Do ``write`` now, or with the unlock when inside a lock."""
        batch = self._batch()
        if batch is not None:
            batch.writes.append(write)
            return
        pipe = self.redis.pipeline(transaction=True)
        write(pipe)
        pipe.execute()

    def load_session(self, session_id: str) -> UssdSession | None:
        """The USSD session, or None when unknown or expired."""
        batch = self._batch()
        if batch is not None and session_id in batch.sessions:
            known = batch.sessions[session_id]
            if known is None or isinstance(known, UssdSession):
                return known
            raw: Any = known
        else:
            raw = self.redis.get(f"{PREFIX}ussd:{session_id}")
        return ussd_session(raw)

    def save_session(self, session: UssdSession) -> None:
        """Keep the USSD session for the next request of the same AT session."""
        key, value = f"{PREFIX}ussd:{session.session_id}", session_data(session)
        batch = self._batch()
        if batch is not None:
            batch.sessions[session.session_id] = session
        self._write(lambda pipe: pipe.set(key, value, ex=self.session_ttl))

    def load_run(self, run_id: str) -> RunRecord | None:
        """A run by id, or None when unknown or past its keeping time."""
        batch = self._batch()
        if batch is not None and run_id in batch.runs:
            known = batch.runs[run_id]
            if known is None or isinstance(known, RunRecord):
                return known
            return run_record(known)
        return run_record(self.redis.get(f"{PREFIX}run:{run_id}"))

    def load_runs(self, run_ids: Sequence[str]) -> list[RunRecord | None]:
        """Runs by id, in one round trip (for the worker storing them)."""
        if not run_ids:
            return []
        return [run_record(raw) for raw in self.redis.mget(f"{PREFIX}run:{r}" for r in run_ids)]

    def active_run(self, flow_id: str, respondent: str) -> RunRecord | None:
        """The respondent's unfinished run of a flow, if one can still be resumed."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hget(runs_key(respondent), _active_field(flow_id))
        pipe.get(f"{PREFIX}active:{flow_id}:{respondent}")
        pointer, pointer_before = pipe.execute()
        if pointer:
            run_id, _, until = _text(pointer).partition(" ")
            return self.load_run(run_id) if float(until) > time.time() else None
        return self.load_run(_text(pointer_before)) if pointer_before else None

    def save_run(self, record: RunRecord) -> None:
        """Store a run; an ended run stops being the respondent's active run."""
        state = record.state
        left = max(state.expires_at - state.updated_at, timedelta(seconds=1))
        keep = left + RUN_KEEP_AFTER_EXPIRY
        index_key = runs_key(record.respondent)
        active = _active_field(state.flow_id)
        value = run_data(record)

        def write(pipe: Pipeline) -> None:
            pipe.set(f"{PREFIX}run:{state.run_id}", value, ex=keep)
            # An index of the respondent's runs, so erasure can find every one of them.
            fields: dict[FieldT, EncodableT] = {state.run_id: ""}
            if state.is_active:
                fields[active] = f"{state.run_id} {time.time() + left.total_seconds():.0f}"
            pipe.hset(index_key, mapping=fields)
            pipe.expire(index_key, max(keep, RUNS_INDEX_TTL))
            if not state.is_active:
                # Only the run that ended stops being active; a newer run keeps its pointer.
                pipe.eval(_RELEASE_ACTIVE, 1, index_key, active, state.run_id)
                old_key = f"{PREFIX}active:{state.flow_id}:{record.respondent}"
                pipe.eval(RELEASE, 1, old_key, state.run_id)
            if state.status is RunStatus.COMPLETED:
                pipe.set(done_key(state.flow_id, record.respondent), state.run_id)
                pipe.delete(again_key(state.flow_id, record.respondent))

        batch = self._batch()
        if batch is not None:
            batch.runs[state.run_id] = record
        self._write(write)

    def mark_dirty(self, run_id: str, ask_drain: Callable[[], None]) -> None:
        """Note that the run changed and the database must store it; ``ask_drain`` is called
        when no drain is due yet (a worker must be asked)."""
        when = time.time() * 1000
        batch = self._batch()
        if batch is not None:
            batch.dirty[run_id] = when
            batch.after_dirty = ask_drain
            return
        pipe = self.redis.pipeline(transaction=True)
        index = mark_dirty(pipe, {run_id: when})
        if pipe.execute()[index]:
            ask_drain()

    def schedule_reminder(self, run_id: str, seq: int, number: int, delay: timedelta) -> None:
        """Plan reminder ``number`` of step ``seq``; it replaces the run's pending one."""
        due = time.time() + delay.total_seconds()
        score = reminder_score(due, seq, number)

        def write(pipe: Pipeline) -> None:
            if score is not None:
                pipe.zadd(REMINDERS_KEY, {run_id: score})
                pipe.hdel(REMINDER_STEPS_KEY, run_id)  # left by an entry of the older form
            else:
                pipe.zadd(REMINDERS_KEY, {run_id: due})
                pipe.hset(REMINDER_STEPS_KEY, run_id, f"{seq}:{number}")

        self._write(write)

    def facts_whole(self) -> bool:
        """Whether Redis holds the whole copy of the protective facts (see module docstring)."""
        return self.facts is None or bool(self.redis.exists(FACTS_READY_KEY))

    def _marker(self, key: str, *also: str) -> tuple[bytes | str | None, bool, list[Any]]:
        """A marker's value, whether the facts' copy is whole, and the ``also`` keys' values,
        in one round trip."""
        value, ready, *more = self.redis.mget(key, FACTS_READY_KEY, *also)
        return value, ready is not None or self.facts is None, more

    def has_completed(self, flow_id: str, respondent: str) -> bool:
        """True when the respondent completed this flow and was not invited to it again since."""
        found, trusted, (again,) = self._marker(
            done_key(flow_id, respondent), again_key(flow_id, respondent)
        )
        if again is not None or found is not None or trusted:
            return again is None and found is not None
        assert self.facts is not None  # trusted otherwise
        return self.facts.has_completed(flow_id, respondent)

    def invite_again(self, flow_id: str, respondent: str, valid: timedelta) -> None:
        """Let the respondent answer the completed flow again for ``valid`` (a new wave)."""
        self.redis.set(again_key(flow_id, respondent), "1", ex=max(valid, timedelta(seconds=1)))

    def language(self, respondent: str) -> str | None:
        """The respondent's chosen language, if they chose one."""
        batch = self._batch()
        if batch is not None and respondent in batch.languages:
            return batch.languages[respondent]
        raw = self.redis.get(f"{PREFIX}lang:{respondent}")
        language = _text(raw) if raw else None
        if batch is not None:
            # Under the lock nobody else changes it: a second look needs no round trip.
            batch.languages[respondent] = language
        return language

    def set_language(self, respondent: str, language: str) -> None:
        """Remember the respondent's language for later surveys and messages."""
        batch = self._batch()
        if batch is not None:
            batch.languages[respondent] = language
        self._write(lambda pipe: pipe.set(f"{PREFIX}lang:{respondent}", language))

    def enumerator_code(self, respondent: str) -> str | None:
        """The code of the approved enumerator with this pseudonym, if there is one."""
        raw, trusted, _ = self._marker(enumerator_key(respondent))
        if raw is not None or trusted:
            return _text(raw) if raw else None
        assert self.facts is not None
        return self.facts.enumerator_code(respondent)

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
        index_key, old_runs_key = runs_key(respondent), f"{PREFIX}runs:{respondent}"
        pipe = self.redis.pipeline(transaction=False)
        pipe.hkeys(index_key)
        pipe.smembers(old_runs_key)
        indexed, indexed_before = pipe.execute()
        fields = {_text(r) for r in [*indexed, *indexed_before]}
        run_ids = sorted(f for f in fields if not f.startswith(_active_field("")))
        keys = [f"{PREFIX}run:{run_id}" for run_id in run_ids]
        keys += [_text(k) for k in self.redis.scan_iter(f"{PREFIX}active:*:{respondent}")]
        keys += [_text(k) for k in self.redis.scan_iter(f"{PREFIX}done:*:{respondent}")]
        # The per-number rate counters stay: they hold only the pseudonym and expire within a
        # day, and dropping them would let EFFACER reset the limits (a flood of paid replies).
        keys += [index_key, old_runs_key]
        keys += [f"{PREFIX}lang:{respondent}", f"{PREFIX}help:{respondent}"]
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(*keys)
        if run_ids:
            pipe.zrem(REMINDERS_KEY, *run_ids)
            pipe.hdel(REMINDER_STEPS_KEY, *run_ids)
        pipe.execute()

    def over_limit(self, respondent: str, channel: str, limit: int, window_s: int) -> bool:
        """Count one request of ``respondent``; True once more than ``limit`` in the window."""
        count = self._count_in_window(keys=[rate_key(channel, respondent)], args=[window_s])
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


def _active_field(flow_id: str) -> str:
    return f"a:{flow_id}"


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw
