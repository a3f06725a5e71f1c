"""``survey-gateway run`` brings back what dies under it: a child, or the embedded Redis."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
from pathlib import Path

import psutil
import redis
import requests

from tests.killable_redis import aof_files
from tests.processes import test_cli
from tests.processes.test_cli import poll

# `run` on a free port with its own var folder, as the end-to-end test starts it.
running_gateway = test_cli.running_gateway

Run = tuple[subprocess.Popen[bytes], str, Path]


def _child(run: subprocess.Popen[bytes], command: str) -> psutil.Process | None:
    """The live child of ``run`` running ``survey-gateway <command>``, if there is one."""
    for child in psutil.Process(run.pid).children():
        try:
            if _runs(child, command) and child.status() != psutil.STATUS_ZOMBIE:
                return child
        except psutil.NoSuchProcess:
            continue
    return None


def _new_child(
    run: subprocess.Popen[bytes], command: str, killed: psutil.Process
) -> psutil.Process | None:
    """A live child running ``command`` other than ``killed`` (which, just after SIGKILL, may
    still be listed as running for a moment)."""
    child = _child(run, command)
    return child if child is not None and child.pid != killed.pid else None


# The titles gunicorn and RQ give their main process when setproctitle is installed.
_TITLES = {"serve": "gunicorn: master", "worker": "rq:worker:"}


def _runs(child: psutil.Process, command: str) -> bool:
    """Whether ``child`` is ``survey-gateway <command>``, by command line or process title."""
    cmdline = child.cmdline()
    return cmdline[-1:] == [command] or " ".join(cmdline).startswith(_TITLES[command])


def _up(run: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until `run` itself says the gateway is up (it may see /healthz after we do)."""
    poll("run's banner", lambda: "survey-gateway is running" in log.read_text() or None)


def _healthy(base: str) -> bool | None:
    try:
        return requests.get(base + "/healthz", timeout=2).status_code == 200 or None
    except requests.RequestException:
        return None


def test_run_starts_a_killed_worker_again(running_gateway: Run) -> None:
    run, base, log = running_gateway
    _up(run, log)
    worker = _child(run, "worker")
    assert worker is not None

    worker.send_signal(signal.SIGKILL)

    poll("a new worker", lambda: _new_child(run, "worker", worker), timeout=15)
    poll("/healthz to answer 200 again", lambda: _healthy(base))
    assert run.poll() is None
    assert (
        "The worker (survey-gateway worker) stopped unexpectedly with exit code -9; "
        "starting it again in 1 s." in log.read_text()
    )


def test_run_starts_a_killed_web_server_again(running_gateway: Run) -> None:
    run, base, log = running_gateway
    _up(run, log)
    web = _child(run, "serve")
    assert web is not None

    web.send_signal(signal.SIGKILL)  # gunicorn's master: its workers are left holding the port

    poll("a new web server", lambda: _new_child(run, "serve", web), timeout=15)
    poll("/healthz to answer 200 again", lambda: _healthy(base))
    assert run.poll() is None
    assert "The web server (survey-gateway serve) stopped unexpectedly" in log.read_text()


def test_run_starts_a_killed_embedded_redis_again_on_the_same_data(
    running_gateway: Run, tmp_path: Path
) -> None:
    run, base, log = running_gateway
    _up(run, log)
    var = tmp_path / "var"
    socket_path = var / "redis.sock"
    client = redis.Redis(unix_socket_path=str(socket_path))
    client.set("sg:test:kept", "yes")
    client.close()
    # Appended to the AOF within a second (``everysec``): what this test checks is that Redis
    # comes back on its data, not that second's window (the fault suite states that one).
    poll("the write to reach the AOF", lambda: b"sg:test:kept" in _aof_bytes(var) or None)
    registry = json.loads((var / "redis.db.settings").read_text())
    pid = int(Path(registry["pidfile"]).read_text())

    os.kill(pid, signal.SIGKILL)

    restarted = "The embedded Redis stopped unexpectedly; started it again"
    poll("run to start Redis again", lambda: restarted in log.read_text() or None)
    poll("/healthz to answer 200 again", lambda: _healthy(base))
    assert run.poll() is None
    client = redis.Redis(unix_socket_path=str(socket_path))
    assert client.get("sg:test:kept") == b"yes"
    client.close()
    # What it keeps is for the gateway's eyes only.
    assert stat.S_IMODE(var.stat().st_mode) == 0o700
    for path in [var / "gateway.db", *aof_files(var)]:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path


def _aof_bytes(var: Path) -> bytes:
    """Everything Redis appended so far."""
    return b"".join(path.read_bytes() for path in aof_files(var) if path.is_file())
