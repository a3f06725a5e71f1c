"""Flows published while the gateway runs: every process picks them up without a restart.

Publishing a flow adds one to a counter in Redis (``sg:flows:generation``). Each process notes
the counter's value when it loads the flows, and looks at it again at most once a second,
on its way into a request or a job: one GET, no file read, on the USSD hot path. When the
value differs (a publish, or a Redis that restarted and lost it), the process reads the flows
folder again and swaps in what it finds, in place, so that every holder of the mappings sees it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field

from redis import Redis
from redis.exceptions import RedisError

from flows import Flow, FlowError

log = logging.getLogger(__name__)

GENERATION_KEY = "sg:flows:generation"
CHECK_EVERY_S = 1.0

Loader = Callable[[], tuple[dict[str, Flow], dict[tuple[str, int], Flow]]]
"""Reads the flows folder: the flows new runs start on, and every version kept."""


def flows_published(client: Redis) -> None:
    """Tell every process that the flows folder changed (called after a publish)."""
    client.incr(GENERATION_KEY)


@dataclass
class FlowGeneration:
    """The generation of the flows one process loaded, and how to load them again."""

    client: Redis
    load: Loader
    flows: MutableMapping[str, Flow]
    versions: MutableMapping[tuple[str, int], Flow]
    check_every_s: float = CHECK_EVERY_S
    seen: bytes | None = None
    checked_at: float = float("-inf")
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        """Note the generation the flows just loaded belong to."""
        self.seen = self._read()
        self.checked_at = time.monotonic()

    def refresh(self, *, now: bool = False) -> bool:
        """Load the flows again if one was published since; True when they were reloaded.

        Looks at most once every ``check_every_s`` seconds, unless ``now``.
        """
        at = time.monotonic()
        if not now and at - self.checked_at < self.check_every_s:
            return False
        # One thread looks; the others go on with the flows they have.
        if not self._lock.acquire(blocking=False):
            return False
        try:
            self.checked_at = at
            current = self._read()
            if current == self.seen:
                return False
            try:
                flows, versions = self.load()
            except FlowError as exc:
                # Publishing checks a flow first: a file broken by hand must not stop the
                # gateway, which goes on with the flows it has.
                log.error("flows not reloaded: %s", exc)
                self.seen = current
                return False
            # Keys added or replaced one by one: a request in another thread never sees the
            # mapping empty. A flow file removed stays until the process restarts.
            self.flows.update(flows)
            self.versions.update(versions)
            self.seen = current
            log.info("flows reloaded: %s", ", ".join(sorted(flows)))
            return True
        finally:
            self._lock.release()

    def _read(self) -> bytes | None:
        try:
            value = self.client.get(GENERATION_KEY)
        except RedisError:
            # Redis away: the request will meet it too; the flows in hand stay in service.
            return self.seen
        return value if isinstance(value, bytes) or value is None else str(value).encode()
