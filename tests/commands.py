"""The environment a command runs with in a test: this test's settings, nothing of the suite's."""

from __future__ import annotations

import os

from gateway.core.redis_client import url_of
from gateway.core.runtime import Runtime
from gateway.core.settings import Settings


def command_env(settings: Settings, runtime: Runtime | None = None) -> dict[str, str | None]:
    """Variables for CliRunner: this test's folders and database, and its Redis if given."""
    env: dict[str, str | None] = {
        name: None
        for name in os.environ
        if name.startswith(("GATEWAY_", "AT_")) or name in ("REDIS_URL", "DATABASE_URL")
    }
    env.update({"GATEWAY_VAR_DIR": str(settings.var_dir), "DATABASE_URL": settings.database_url})
    if settings.flows_dir is not None:
        env["GATEWAY_FLOWS_DIR"] = str(settings.flows_dir)
    if runtime is not None:
        env["REDIS_URL"] = url_of(runtime.redis)
    return env
