"""Key rotation of the numbers held in live state (Redis).

``survey-gateway keys rotate`` re-encrypts the database's numbers; these are the others: runs
under way, the numbers queued replies go to, and the households of the USSD sessions that
enumerators are taking. Jobs carry no number, so nothing queued is missed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import redis

from gateway.surveys.live_keys import PREFIX
from gateway.surveys.live_records import run_json, run_raw

# KEYS[1] gets ARGV[2] if it still holds ARGV[1]; its time to live is kept.
_COMPARE_AND_SET = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
    return 1
end
return 0
"""


def rotate_live_tokens(client: redis.Redis, rotate: Callable[[str], str]) -> int:
    """Re-encrypt every number held in Redis with ``rotate``; how many changed.

    Each value is swapped only if unchanged since it was read: one a request rewrote meanwhile
    was written under the new key already.
    """
    swap = client.register_script(_COMPARE_AND_SET)
    changed = 0
    for key in client.scan_iter(f"{PREFIX}run:*"):
        changed += _rotate_json(client, swap, key, ("phone_token",), rotate, run_json, run_raw)
    for key in client.scan_iter(f"{PREFIX}ussd:*"):
        changed += _rotate_json(
            client, swap, key, ("household", "phone_token"), rotate, json.loads, json.dumps
        )
    for key in client.scan_iter(f"{PREFIX}phone:*"):
        raw = client.get(key)
        if raw is None:
            continue
        token = raw.decode() if isinstance(raw, bytes) else raw
        rotated = rotate(token)
        if rotated != token:
            changed += int(swap(keys=[key], args=[raw, rotated]))
    return changed


def _rotate_json(
    client: redis.Redis,
    swap: Any,
    key: bytes,
    path: tuple[str, ...],
    rotate: Callable[[str], str],
    read: Callable[[Any], Any],
    write: Callable[[Any], Any],
) -> int:
    """Rotate the token at ``path`` inside a JSON value (read and written as ``read`` and
    ``write`` say)."""
    raw = client.get(key)
    if raw is None:
        return 0
    data = read(raw)
    holder: Any = data
    for name in path[:-1]:
        holder = holder.get(name) if isinstance(holder, dict) else None
    token = holder.get(path[-1]) if isinstance(holder, dict) else None
    if not token:
        return 0
    rotated = rotate(token)
    if rotated == token:
        return 0
    holder[path[-1]] = rotated
    return int(swap(keys=[key], args=[raw, write(data)]))
