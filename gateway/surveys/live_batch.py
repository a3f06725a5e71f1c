"""One request's work on live state in two round trips to Redis: a lock that reads, a write
that unlocks.

A USSD step used to talk to Redis eight or nine times (lock, session, run, run index, session,
unlock, and the job that stores the answer). Inside :meth:`RedisSessionStore.lock
<gateway.surveys.session_store.RedisSessionStore.lock>` it now takes the lock and reads the
USSD session and its run in one script, and every write of the request waits in a
:class:`StepBatch` until the lock is let go: then the writes and the unlock go in one
``MULTI``. Reads inside the lock see the batch's own writes first.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis
from redis.client import Pipeline
from redis.commands.core import Script
from redis.exceptions import LockError

from gateway.core.redis_scripts import DELETE_IF_HOLDS

# KEYS[1] the lock, then (optional) the rate count's key when ARGV[4] is set, then (optional)
# the USSD session. ARGV: the lock's token, its timeout in ms, the run keys' prefix, and the
# rate limit and its window (s), or empty. Counts the request first: past the limit, returns
# {-1} without taking the lock. Takes the lock; if taken, returns the session and the run it
# points to, so a step has all it reads in one round trip.
_ACQUIRE_AND_READ = """
local next_key = 2
if ARGV[4] ~= '' then
    local count = redis.call('INCR', KEYS[2])
    if redis.call('TTL', KEYS[2]) < 0 then redis.call('EXPIRE', KEYS[2], ARGV[5]) end
    if count > tonumber(ARGV[4]) then return {-1} end
    next_key = 3
end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {0} end
if #KEYS < next_key then return {1} end
local session = redis.call('GET', KEYS[next_key])
if not session then return {1} end
local ok, data = pcall(cjson.decode, session)
local run = false
if ok and type(data) == 'table' and type(data['run_id']) == 'string' then
    run = redis.call('GET', ARGV[3] .. data['run_id'])
end
return {1, session, run}
"""
# Sent by its SHA1 (EVALSHA), loaded again when the server does not know it.
_ACQUIRE_SCRIPT = Script(None, _ACQUIRE_AND_READ.encode())  # type: ignore[arg-type]

# Only the lock's owner lets it go.
RELEASE = DELETE_IF_HOLDS

_RETRY_EVERY_S = 0.005

# Runs whose live state changed since the database last stored them, scored by when (ms).
DIRTY_KEY = "sg:dirty"
# Set while a drain job is queued or running: marking a run dirty asks for one only if unset.
DRAIN_DUE_KEY = "sg:drain:due"
# Outlives any wait of a queued drain in a busy queue; a lost drain is asked for again after.
DRAIN_DUE_TTL_S = 60


def mark_dirty(pipe: Pipeline, runs: dict[str, float]) -> int:
    """Add ``runs`` to the dirty set and ask for a drain if none is due; the index in ``pipe``
    of the command whose result says whether a drain must be queued."""
    pipe.zadd(DIRTY_KEY, runs)
    index = len(pipe.command_stack)
    pipe.set(DRAIN_DUE_KEY, "1", nx=True, ex=DRAIN_DUE_TTL_S)
    return index


@dataclass
class StepBatch:
    """What one locked request read and what it will write, in order."""

    # USSD sessions and run records by id: as read (raw JSON, None when absent) or as written
    # (the object itself).
    sessions: dict[str, Any] = field(default_factory=dict)
    runs: dict[str, Any] = field(default_factory=dict)
    languages: dict[str, str | None] = field(default_factory=dict)
    writes: list[Callable[[Pipeline], None]] = field(default_factory=list)
    # Locks taken inside this one (another respondent's): let go with the writes.
    inner_locks: list[tuple[str, str]] = field(default_factory=list)
    # Runs changed by the request (id -> when, ms), and what asks a worker to store them.
    dirty: dict[str, float] = field(default_factory=dict)
    after_dirty: Callable[[], None] | None = None


class Refused(Exception):
    """The request went past its rate limit: counted, but the lock was not taken."""


def acquire(
    client: redis.Redis,
    lock_key: str,
    *,
    timeout_s: float,
    wait_s: float,
    session_key: str | None = None,
    run_prefix: str = "",
    rate: tuple[str, int, int] | None = None,
) -> tuple[str, list[Any]]:
    """Take ``lock_key`` (waiting up to ``wait_s``); its token and what was read with it.

    ``rate`` (key, limit, window in s) counts the request once, with the first attempt;
    past the limit, ``Refused`` is raised.
    """
    token = uuid.uuid4().hex
    read_keys = [] if session_key is None else [session_key]
    timeout_ms = int(timeout_s * 1000)
    deadline = time.monotonic() + wait_s
    while True:
        limit_args: list[str | int] = ["", ""]
        keys = [lock_key, *read_keys]
        if rate is not None:
            rate_key, limit, window_s = rate
            keys, limit_args = [lock_key, rate_key, *read_keys], [limit, window_s]
        reply = _ACQUIRE_SCRIPT(keys, [token, timeout_ms, run_prefix, *limit_args], client=client)
        if reply[0] == -1:
            raise Refused(lock_key)
        # Counted once: a retry while the lock is busy is the same request.
        rate = None
        if reply[0]:
            return token, list(reply[1:])
        if time.monotonic() >= deadline:
            raise LockError(f"{lock_key} is held by another request")
        time.sleep(_RETRY_EVERY_S)


def flush(client: redis.Redis, batch: StepBatch, lock_key: str, token: str) -> None:
    """Write what the batch holds and let go of its locks, in one ``MULTI``."""
    pipe = client.pipeline(transaction=True)
    for write in batch.writes:
        write(pipe)
    drain_index = mark_dirty(pipe, batch.dirty) if batch.dirty else None
    for inner_key, inner_token in batch.inner_locks:
        pipe.eval(RELEASE, 1, inner_key, inner_token)
    pipe.eval(RELEASE, 1, lock_key, token)
    results = pipe.execute()
    if drain_index is not None and results[drain_index] and batch.after_dirty is not None:
        batch.after_dirty()
