"""Driving the USSD endpoint with ``wrk`` and ``tests/bench_ussd.lua``: handsets taking the survey.

A compiled load generator, so the figures are the server's: a Python client on two cores would
mostly measure itself. One wrk thread per connection, each thread one handset (the Lua script
says why).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).with_name("bench_ussd.lua")
# Consent, current region, origin region, household size, intention (stay), obstacle, two needs.
ANSWERS = ["1", "11", "5", "6", "2", "1", "1", "3"]
# A request slower than this counts as a timeout and is left out of wrk's latency figures.
TIMEOUT_S = 10
RESULT_PREFIX = "BENCH_RESULT "


class WrkMissing(RuntimeError):
    """wrk is not installed."""


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run saw."""

    requests: int
    seconds: float
    completed: int  # surveys answered to their last screen
    bad: int  # screens that were not 200 with CON (END on the last screen)
    socket_errors: int
    timeouts: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    sample: str  # the first bad screen

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.bad + self.socket_errors + self.timeouts

    def error_text(self) -> str:
        """The errors in words, for the report ('' when there were none)."""
        if not self.errors:
            return ""
        text = (
            f"{self.bad} bad screens, {self.socket_errors} socket errors, {self.timeouts} timeouts"
        )
        return text + (f"; first bad screen: {self.sample}" if self.sample else "")


def require_wrk() -> str:
    """The path of wrk, or WrkMissing saying how to install it."""
    path = shutil.which("wrk")
    if path is None:
        raise WrkMissing("wrk is not installed: apt install wrk (Debian/Ubuntu), then run again")
    return path


@dataclass(frozen=True)
class Load:
    """How many handsets, how long, and how they behave."""

    handsets: int
    seconds: float
    think_ms: int = 0  # mean pause before each screen; 0: back to back
    surveys: int = 0  # surveys per handset, then stop; 0: until ``seconds`` are over
    first_number: int = 0  # keeps the numbers of runs against one gateway apart
    numbers_per_handset: int = 40_000
    answers: tuple[str, ...] = tuple(ANSWERS)


def drive(base_url: str, load: Load) -> WrkResult:
    """Run wrk against ``base_url``/ussd with ``load``; its result line, parsed."""
    command = [
        require_wrk(),
        f"-t{load.handsets}",
        f"-c{load.handsets}",
        f"-d{max(1, round(load.seconds))}s",
        f"--timeout={TIMEOUT_S}s",
        "-s",
        str(SCRIPT),
        f"{base_url}/ussd",
    ]
    env = {
        **os.environ,
        "BENCH_ANSWERS": ",".join(load.answers),
        "BENCH_THINK_MS": str(load.think_ms),
        "BENCH_HANDSETS": str(load.handsets),
        "BENCH_SURVEYS": str(load.surveys),
        "BENCH_FIRST": str(load.first_number),
        "BENCH_STRIDE": str(load.numbers_per_handset),
    }
    with tempfile.TemporaryDirectory() as folder:
        stop_file = Path(folder) / "stop"
        env["BENCH_STOP_FILE"] = str(stop_file)
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
        assert process.stdout is not None
        output = _until_handsets_done(process, load.handsets if load.surveys else 0, stop_file)
        output += process.stdout.read()
        process.wait()
    return _parse(output, process.returncode)


def _until_handsets_done(process: subprocess.Popen[str], handsets: int, stop_file: Path) -> str:
    """Read wrk's output; once every handset said it is done, stop wrk early.

    The stop file lets the handsets' threads stop (see the Lua script); then SIGINT, since wrk
    sleeps for its whole ``-d`` even when every thread has stopped: it ends the sleep, and wrk
    prints its summary as usual.
    """
    assert process.stdout is not None
    if not handsets:
        return ""
    lines: list[str] = []
    done = 0
    for line in process.stdout:
        lines.append(line)
        if line.startswith("handset done"):
            done += 1
            if done == handsets:
                stop_file.touch()
                time.sleep(0.2)
                process.send_signal(signal.SIGINT)
                break
    return "".join(lines)


def _parse(output: str, returncode: int) -> WrkResult:
    for line in output.splitlines():
        if line.startswith(RESULT_PREFIX):
            return WrkResult(**json.loads(line[len(RESULT_PREFIX) :]))
    raise RuntimeError(f"wrk gave no result (exit {returncode}):\n{output[-2000:]}")
