"""The processes ``make bench`` measures, started as an operator would start them.

Each gateway gets a fresh var folder of its own (embedded Redis, SQLite) and is started with
the ``survey-gateway`` command: ``run`` as ``make run`` does, or ``serve`` and ``worker``
apart when the bench needs the web side without a worker. The bench reads them only from
outside: HTTP, the embedded Redis's socket, and the database.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis
import requests
from sqlalchemy import create_engine, text

from tests.processes.test_cli import stop_process

# Set by ``make bench ARGS=--keep``: leave each gateway's folder (its log, data) for a look.
KEEP_FOLDERS = False
# The children of `run` get this long to stop; then the bench kills the process group.
STOP_TIMEOUT_S = 30.0
HEALTHY_TIMEOUT_S = 90.0


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Gateway:
    """One gateway's var folder, its settings and the processes started on it."""

    name: str
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    # Short: the embedded Redis's unix socket lives here and its path must fit in 108 bytes.
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="sgb-")))
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def var(self) -> Path:
        return self.root / "var"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.var / 'gateway.db'}"

    @property
    def log_path(self) -> Path:
        return self.root / f"{self.name}.log"

    def env(self) -> dict[str, str]:
        """The environment of ``make run`` in this folder: nothing inherited points elsewhere."""
        env = dict(os.environ)
        for name in ("REDIS_URL", "DATABASE_URL", "AT_USERNAME", "AT_API_KEY", "GATEWAY_ENV"):
            env.pop(name, None)
        env.update(
            {"GATEWAY_VAR_DIR": str(self.var), "PORT": str(self.port), "PYTHONUNBUFFERED": "1"}
        )
        env.update(self.extra_env)
        return env

    def start(self, command: str) -> subprocess.Popen[bytes]:
        """Start ``survey-gateway <command>`` here, its output in the log file."""
        self.var.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", command],
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                # Its own group: stopping it reaches gunicorn's and RQ's children too.
                process_group=0,
            )
        self.processes.append(process)
        return process

    def wait_healthy(self) -> None:
        """Wait for /healthz to answer 200, or fail with the end of the log."""
        deadline = time.monotonic() + HEALTHY_TIMEOUT_S
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.processes):
                break
            try:
                if requests.get(f"{self.base_url}/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{self.name} did not become healthy:\n{self.log_tail()}")

    def redis(self) -> redis.Redis:
        """A client on the embedded Redis the gateway started in its var folder."""
        return redis.Redis(unix_socket_path=str(self.var / "redis.sock"), socket_timeout=30)

    def answers_stored(self) -> int:
        """Rows in the answers table: what the workers have written to the database."""
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as connection:
                return int(connection.execute(text("SELECT count(*) FROM answers")).scalar_one())
        finally:
            engine.dispose()

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, process: subprocess.Popen[bytes] | None = None) -> None:
        """Stop one process, or all (newest first) and remove the folder; as Ctrl-C would."""
        for p in [process] if process is not None else list(reversed(self.processes)):
            stop_group(p)
        if process is None and not KEEP_FOLDERS:
            shutil.rmtree(self.root, ignore_errors=True)
        elif process is None:
            print(f"  ({self.name}: its folder, log included, is kept in {self.root})")


def stop_group(process: subprocess.Popen[bytes], sig: int = signal.SIGINT) -> None:
    """Signal the process (SIGINT: ``run`` stops its children in order); SIGKILL if it hangs."""
    if process.poll() is None:
        stop_process(process, sig, STOP_TIMEOUT_S)
    try:
        # Anything of its group still there (a gunicorn or RQ child) would hold the port.
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@dataclass
class BareEndpoint:
    """The bare Flask endpoint of ``tests.bench_bare`` under the gateway's gunicorn options."""

    workers: int
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [sys.executable, "-m", "tests.bench_bare", "--port", str(self.port)]
        self.process = subprocess.Popen(
            [*command, "--workers", str(self.workers)],
            stdin=subprocess.DEVNULL,
            process_group=0,
        )
        deadline = time.monotonic() + HEALTHY_TIMEOUT_S
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if requests.get(f"{self.base_url}/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError("the bare endpoint did not start")

    def stop(self) -> None:
        if self.process is not None:
            # SIGTERM: gunicorn's graceful stop, finishing the requests under way.
            stop_group(self.process, signal.SIGTERM)
