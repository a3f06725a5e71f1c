"""Work waiting in Redis for the workers: runs to store, reminders due.

Both are sorted sets with one member per run, so a household's waiting work stays one entry
however many steps it answers: ``sg:dirty`` scores each changed run by when it changed (ms),
``sg:reminders`` by when its next reminder is due, the question and the reminder's number
packed in the same score (``reminder_score``): due millisecond x 1000 + question x 10 + number.
(Before, the score was the due time alone and the hash ``sg:reminder:steps`` held
``question:number``, some 108 bytes more per run; such entries are still read and done.)
A worker takes what is due, does it, then removes each entry only if its score did not
change meanwhile: what changed again is done again.
"""

from __future__ import annotations

import math
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

# Packed scores: exact in a double until the year 2255 (due millisecond < 9 x 10^12).
_PACK = 1000
_SEQ_PACK = 10
# Scores above this are packed; below, a due time in seconds with the step in the hash.
_PACKED_FROM = 10**14


def reminder_score(due_s: float, seq: int, number: int) -> float | None:
    """The packed score of reminder ``number`` of step ``seq`` due at ``due_s`` (to the
    millisecond), or None when the step does not fit (the hash then holds it)."""
    if not (0 <= seq < _PACK // _SEQ_PACK and 0 <= number < _SEQ_PACK):
        return None
    return float(math.floor(due_s * 1000) * _PACK + seq * _SEQ_PACK + number)


def read_reminder(score: float, step: Any = None) -> tuple[float, int, int]:
    """When a reminder is due (s), its step and number, from its score (and the hash's
    ``seq:number`` for an entry whose score is a time alone)."""
    if score >= _PACKED_FROM:
        due_ms, packed = divmod(int(score), _PACK)
        seq, number = divmod(packed, _SEQ_PACK)
        return due_ms / 1000, seq, number
    seq_text, _, number_text = _text(step or "0:0").partition(":")
    return score, int(seq_text), int(number_text)


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
    now = time.time()
    pipe = client.pipeline(transaction=False)
    pipe.zrangebyscore(REMINDERS_KEY, "-inf", now, 0, limit, withscores=True)
    pipe.zrangebyscore(
        REMINDERS_KEY,
        _PACKED_FROM,
        math.floor(now * 1000) * _PACK + _PACK - 1,
        0,
        limit,
        withscores=True,
    )
    unpacked, packed = pipe.execute()
    found: list[Any] = [*unpacked, *packed][:limit]
    if not found:
        return []
    steps: list[Any] = [None] * len(found)
    if unpacked:
        steps[: len(unpacked)] = client.hmget(REMINDER_STEPS_KEY, [r for r, _ in unpacked])
    due = []
    for (run_id, score), step in zip(found, steps, strict=True):
        _, seq, number = read_reminder(float(score), step)
        due.append((_text(run_id), float(score), seq, number))
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
