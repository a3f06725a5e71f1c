"""Which gateway the commands of this machine talk to: PORT, else the one `run` noted."""

from __future__ import annotations

from pathlib import Path

from gateway.core.settings import Settings
from gateway.processes.local_http import (
    RUNNING_URL_FILE,
    forget_running_url,
    gateway_url,
    note_running_url,
)


def settings_for(var: Path, port: str | None = None) -> Settings:
    env = {"GATEWAY_VAR_DIR": str(var)} | ({"PORT": port} if port else {})
    return Settings.from_env(env)


def test_a_gateway_run_on_another_port_is_found_without_port_set(tmp_path: Path) -> None:
    note_running_url(settings_for(tmp_path, "8123"))

    assert gateway_url(settings_for(tmp_path), environ={}) == "http://127.0.0.1:8123"
    # PORT set where the command runs says where to look.
    assert gateway_url(settings_for(tmp_path, "8200"), {"PORT": "8200"}) == (
        "http://127.0.0.1:8200"
    )


def test_without_a_note_the_default_port_is_used(tmp_path: Path) -> None:
    assert gateway_url(settings_for(tmp_path), environ={}) == "http://127.0.0.1:8000"

    (tmp_path / RUNNING_URL_FILE).write_text("\x1b[2Jnot a url\n")
    assert gateway_url(settings_for(tmp_path), environ={}) == "http://127.0.0.1:8000"


def test_run_removes_only_its_own_note(tmp_path: Path) -> None:
    note_running_url(settings_for(tmp_path, "8123"))

    forget_running_url(settings_for(tmp_path, "8124"))  # another run, on another port
    assert (tmp_path / RUNNING_URL_FILE).exists()
    forget_running_url(settings_for(tmp_path, "8123"))
    assert not (tmp_path / RUNNING_URL_FILE).exists()
