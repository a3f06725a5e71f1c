"""Work waiting in Redis for the workers: runs to store, reminders due.

Both are sorted sets with one member per run, so a household's waiting work stays one entry
however many steps it answers: ``sg:dirty`` scores each changed run by when it changed (ms),
``sg:reminders`` by when its next reminder is due (s), with the question and the reminder's
number in the hash ``sg:reminder:steps``. A worker takes what is due, does it, then removes
each entry only if its score did not change meanwhile: what changed again is done again.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import redis

from gateway.surveys.live_batch import DIRTY_KEY

REMINDERS_KEY = "sg:reminders"
REMINDER_STEPS_KEY = "sg:reminder:steps"

# Removes each member ARGV[2i-1] of KEYS[1] whose score is still ARGV[2i] (and its field in the
# hash KEYS[2], if given).
_REMOVE_IF_UNCHANGED = """
local removed = 0
for i = 1, #ARGV, 2 do
    local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
    if score and tonumber(score) == tonumber(ARGV[i + 1]) then
        removed = removed + redis.call('ZREM', KEYS[1], ARGV[i])
        if #KEYS > 1 then redis.call('HDEL', KEYS[2], ARGV[i]) end
    end
end
return removed
"""

Mark = tuple[str, float]


def dirty_runs(client: redis.Redis, limit: int) -> list[Mark]:
    """Up to ``limit`` changed runs due for storing, oldest change first, with their marks."""
    now = time.time() * 1000
    found: list[Any] = client.zrangebyscore(DIRTY_KEY, "-inf", now, 0, limit, withscores=True)
    return [(_text(run_id), float(score)) for run_id, score in found]


def stored(client: redis.Redis, marks: Sequence[Mark]) -> None:
    """The runs were stored as of ``marks``: unmark those that did not change since."""
    _remove_if_unchanged(client, [DIRTY_KEY], marks)


def defer_dirty(client: redis.Redis, run_ids: Sequence[str], delay: timedelta) -> None:
    """Leave runs that could not be stored for a later pass."""
    if run_ids:
        later = (time.time() + delay.total_seconds()) * 1000
        client.zadd(DIRTY_KEY, dict.fromkeys(run_ids, later), xx=True)


def has_dirty(client: redis.Redis, older_than: timedelta = timedelta(0)) -> bool:
    """Whether a run changed more than ``older_than`` ago waits to be stored."""
    return bool(client.zcount(DIRTY_KEY, "-inf", (time.time() - older_than.total_seconds()) * 1000))


def due_reminders(client: redis.Redis, limit: int) -> list[tuple[str, float, int, int]]:
    """Up to ``limit`` reminders due now: run id, its mark, step and reminder number."""
    found: list[Any] = client.zrangebyscore(
        REMINDERS_KEY, "-inf", time.time(), 0, limit, withscores=True
    )
    if not found:
        return []
    steps: list[Any] = client.hmget(REMINDER_STEPS_KEY, [run_id for run_id, _ in found])
    due = []
    for (run_id, score), step in zip(found, steps, strict=True):
        seq, _, number = _text(step or "0:0").partition(":")
        due.append((_text(run_id), float(score), int(seq), int(number)))
    return due


def reminders_done(client: redis.Redis, marks: Sequence[Mark]) -> None:
    """Drop reminders taken as of ``marks`` (a run planned anew meanwhile keeps its new one)."""
    _remove_if_unchanged(client, [REMINDERS_KEY, REMINDER_STEPS_KEY], marks)


def _remove_if_unchanged(client: redis.Redis, keys: list[str], marks: Sequence[Mark]) -> None:
    if marks:
        args = [value for run_id, score in marks for value in (run_id, repr(score))]
        client.eval(_REMOVE_IF_UNCHANGED, len(keys), *keys, *args)


def _text(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw
