"""Small atomic steps on Redis that need a script: read and write as one."""

from __future__ import annotations

import redis

# Deletes KEYS[1] if it holds ARGV[1] (also sent inside pipelines, hence public).
DELETE_IF_HOLDS = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


def delete_if_holds(client: redis.Redis, key: str, value: bytes | str) -> bool:
    """Delete ``key`` if it still holds ``value`` (a mark or lock of one owner); whether it did."""
    return bool(client.register_script(DELETE_IF_HOLDS)(keys=[key], args=[value]))
