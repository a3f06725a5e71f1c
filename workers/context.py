"""The runtime a worker process uses, built on first use (never at import time).

``survey-gateway worker`` and the tests install one explicitly; a job run anywhere else builds
one from the environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.core.clock import Clock, SystemClock
from gateway.core.runtime import Runtime
from gateway.core.settings import Settings
from gateway.messaging.sender import Sender, make_sender


@dataclass(frozen=True, slots=True)
class WorkerContext:
    """What jobs need: the runtime, the SMS sender, and a clock (tests give a fake one)."""

    runtime: Runtime
    sender: Sender
    clock: Clock = field(default_factory=SystemClock)


_current: WorkerContext | None = None


def install(context: WorkerContext) -> None:
    """Make ``context`` the one jobs in this process use."""
    global _current
    _current = context


def current() -> WorkerContext:
    """The installed context, or one built from the environment; its flows up to date."""
    global _current
    if _current is None:
        runtime = Runtime.build(Settings.from_env())
        _current = WorkerContext(runtime=runtime, sender=make_sender(runtime.settings))
    # A flow published since the worker started is used without restarting it.
    _current.runtime.refresh_flows()
    return _current
