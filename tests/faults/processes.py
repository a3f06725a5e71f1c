"""Every process the fault suite starts, and the keeper that restarts dead workers.

Each process runs in a process group of its own, so stopping it reaches its children too (an
RQ worker's scheduler, gunicorn's workers). ``Processes.stop_all`` is called on every way out
(a failed check, an exception, Ctrl-C), so nothing the suite started outlives it. A group is
only signalled while its leader is known to be ours (running, or just seen exiting), never
later: its id could by then belong to someone else's processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path

STOP_WAIT_S = 15.0
RESTART_AFTER_S = 1.0


class Processes:
    """The processes started so far, stopped together at the end."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started: list[subprocess.Popen[bytes]] = []

    def start(
        self, argv: Sequence[str], env: dict[str, str], log_path: Path
    ) -> subprocess.Popen[bytes]:
        """Start ``argv`` in its own process group, its output appended to ``log_path``."""
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                list(argv),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                process_group=0,
            )
        with self._lock:
            self._started.append(process)
        return process

    def stop_all(self) -> None:
        """SIGTERM every process group still running, then SIGKILL what is left."""
        with self._lock:
            running = [p for p in self._started if p.poll() is None]
        for process in running:
            signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_WAIT_S
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                signal_group(process, signal.SIGKILL)
                process.wait()


def signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    """Send ``signum`` to the process group led by ``process`` (gone already: nothing)."""
    try:
        os.killpg(process.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


class Keeper:
    """Runs one worker command and starts it again about a second after it exits.

    What an operator's process manager (systemd ``Restart=always``) does; ``exits`` counts
    every exit the suite did not ask for, including kills by the suite's faults.
    """

    def __init__(
        self,
        name: str,
        processes: Processes,
        argv: Sequence[str],
        env: dict[str, str],
        log_path: Path,
    ) -> None:
        self.name = name
        self.exits = 0
        self.kills = 0  # of those exits, the ones the suite caused with :meth:`kill`
        self._processes = processes
        self._argv = list(argv)
        self._env = env
        self._log_path = log_path
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._current: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._run, name=f"keeper-{name}", daemon=True)

    def start(self) -> Keeper:
        """Start the worker and keep it running until :meth:`stop`."""
        self._spawn()
        self._thread.start()
        return self

    @property
    def pid(self) -> int | None:
        """The worker's process id now (it changes with each restart)."""
        with self._lock:
            return self._current.pid if self._current is not None else None

    def kill(self) -> None:
        """SIGKILL the worker and its children, as the OOM killer or a power cut would."""
        with self._lock:
            current = self._current
        if current is not None and current.poll() is None:
            self.kills += 1
            signal_group(current, signal.SIGKILL)

    def stop(self) -> None:
        """Stop restarting; the processes themselves end with ``Processes.stop_all``."""
        self._stopping.set()
        self._thread.join(timeout=5)

    def _spawn(self) -> None:
        process = self._processes.start(self._argv, self._env, self._log_path)
        with self._lock:
            self._current = process

    def _run(self) -> None:
        while not self._stopping.wait(0.2):
            with self._lock:
                current = self._current
            if current is None or current.poll() is None:
                continue
            # The group's other members (the RQ scheduler) must not linger as orphans.
            signal_group(current, signal.SIGKILL)
            if self._stopping.is_set():
                return
            self.exits += 1
            if self._stopping.wait(RESTART_AFTER_S):
                return
            self._spawn()
