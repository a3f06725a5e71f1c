"""A rate limiter shared by every process on one Redis: at most N grants a second per key.

It is GCRA (the generic cell rate algorithm, a token bucket of one token) in a Lua script, so
the read and the write of a key happen as one step in Redis, whichever worker asks. Each grant
pushes the key's "theoretical arrival time" one interval (1/N s) on; a grant is refused until
the clock reaches it. Grants are thus at least 1/N s apart, and no one-second window holds
more than N of them. There is no burst allowance: the throttle is what the provider's
account and the network take, not an average.

The clock is given (tests pass a fake one); times are kept in whole microseconds so that
floating-point sums never let one grant too many through.
"""

from __future__ import annotations

import math

import redis

from gateway.core.clock import Clock

# KEYS[1]: the key. ARGV[1]: now, ARGV[2]: the interval between grants, both in microseconds.
# Returns 0 when granted, else the microseconds to wait until a grant is possible.
# The key holds "<theoretical arrival time>:<run_id of the Redis process that wrote it>". A
# value written by an earlier Redis process was read back from its append-only file, which may
# lack the last second's grants (with appendfsync everysec Redis may hold a write back while it
# answers): one grant is then counted as just taken, so a restart cannot let one through early.
_GCRA = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local run_id = string.match(redis.call('INFO', 'server'), 'run_id:(%w+)') or ''
-- Once the clock passes the arrival time the value no longer matters: a long TTL only tidies.
local keep_ms = math.ceil(interval / 1000) + 60000
local tat = 0
local stored = redis.call('GET', KEYS[1])
if stored then
    local written, writer = string.match(stored, '^(%d+):?(%w*)$')
    tat = tonumber(written) or 0
    if writer ~= run_id then
        tat = math.max(tat, now + interval)
        redis.call('SET', KEYS[1], string.format('%.0f', tat) .. ':' .. run_id, 'PX', keep_ms)
    end
end
if tat > now then
    return tat - now
end
redis.call('SET', KEYS[1], string.format('%.0f', now + interval) .. ':' .. run_id, 'PX', keep_ms)
return 0
"""


class RateLimiter:
    """At most ``rate`` grants a second for each key, across every process sharing the Redis."""

    def __init__(self, client: redis.Redis, clock: Clock) -> None:
        self.clock = clock
        self._script = client.register_script(_GCRA)

    def try_acquire(self, key: str, rate: float) -> float:
        """Take one grant under ``key``: 0.0 when granted, else the seconds to wait for one."""
        if rate <= 0:
            raise ValueError("a rate limit needs a rate above zero")
        now_us = int(self.clock.now().timestamp() * 1_000_000)
        # Rounded up: a grant never comes sooner than 1/rate s after the one before.
        interval_us = math.ceil(1_000_000 / rate)
        wait_us = int(self._script(keys=[key], args=[now_us, interval_us]))
        return wait_us / 1_000_000
