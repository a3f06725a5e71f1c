"""The children of ``survey-gateway run``: started, watched, restarted when they die, stopped.

A child that dies once the gateway is up (killed, out of memory, a crash) is started again
after a pause that doubles from 1 s to 30 s while it keeps dying, and goes back to 1 s once
it has run fine for a minute; each restart is one line on the terminal.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import click

# How long children get to finish what they are doing after SIGTERM, before SIGKILL.
STOP_TIMEOUT_S = 10.0
FIRST_RESTART_DELAY_S = 1.0
LONGEST_RESTART_DELAY_S = 30.0
# A child that ran this long before dying was fine: its next restart is quick again.
RAN_FINE_AFTER_S = 60.0


@dataclass
class Child:
    """A child process of ``run``, what to call it in messages, and when to restart it."""

    name: str
    command: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    started_at: float = field(default_factory=time.monotonic)
    delay_s: float = FIRST_RESTART_DELAY_S
    restart_at: float | None = None

    @classmethod
    def spawn(cls, name: str, command: str, env: dict[str, str]) -> Child:
        """Start ``survey-gateway <command>`` as a child in a process group of its own."""
        return cls(name, command, env, _popen(command, env))

    def died(self) -> bool:
        """Whether the process has exited and no restart is planned yet."""
        return self.restart_at is None and self.process.poll() is not None

    def plan_restart(self) -> None:
        """Clear what the dead child left behind and plan its restart, saying so."""
        _kill_group(self.process)
        now = time.monotonic()
        if now - self.started_at >= RAN_FINE_AFTER_S:
            self.delay_s = FIRST_RESTART_DELAY_S
        self.restart_at = now + self.delay_s
        click.echo(
            f"The {self.name} (survey-gateway {self.command}) stopped unexpectedly with exit "
            f"code {self.process.returncode}; starting it again in {self.delay_s:.0f} s.",
            err=True,
        )
        self.delay_s = min(self.delay_s * 2, LONGEST_RESTART_DELAY_S)

    def restart_if_due(self) -> None:
        """Start the process again once its pause is over."""
        if self.restart_at is None or time.monotonic() < self.restart_at:
            return
        self.restart_at = None
        self.started_at = time.monotonic()
        self.process = _popen(self.command, self.env)


def _popen(command: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    # Own process group: a Ctrl-C at the terminal reaches only `run`, which then stops the
    # children in order; and killpg can reach a child's own children (gunicorn and RQ workers).
    return subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", command],
        env=env,
        stdin=subprocess.DEVNULL,
        process_group=0,
    )


def first_dead(children: Sequence[Child]) -> Child | None:
    """The first child whose process has exited (and is not waiting for a restart)."""
    for child in children:
        if child.died():
            return child
    return None


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    # The whole group: a gunicorn or RQ worker left behind would keep the port or the queue.
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # the group is already empty
    process.wait()


def stop_children(children: Sequence[Child]) -> None:
    """SIGTERM each child, wait for them together, then SIGKILL whatever is left."""
    for child in children:
        if child.process.poll() is None:
            child.process.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for child in children:
        try:
            child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            click.echo(f"The {child.name} did not stop in time: killing it.", err=True)
        _kill_group(child.process)
