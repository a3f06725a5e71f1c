"""The long-running processes: ``serve`` (the web app under gunicorn) and ``worker`` (RQ).

``survey-gateway run`` starts one of each; in production they run as separate services.
Without ``REDIS_URL`` each starts the embedded Redis of the var folder, or joins it when
another process (usually ``run``) already has it running.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gateway.core.settings import Settings
from gateway.processes.children import STOP_TIMEOUT_S

if TYPE_CHECKING:
    from gateway.core.redis_client import EmbeddedRedis

log = logging.getLogger(__name__)
# Read by prometheus-client (gateway.web.metrics) when a worker first imports it.
METRICS_FOLDER_ENV = "PROMETHEUS_MULTIPROC_DIR"


@click.command()
@click.option("--access-log", is_flag=True, help="Log every request to stderr (off by default).")
def serve(access_log: bool) -> None:
    """Serve the web app (AT callbacks, /healthz) with gunicorn on HOST:PORT."""
    from gunicorn.app.base import BaseApplication

    from gateway.core.logs import configure_logging
    from gateway.core.redis_client import EmbeddedRedis, make_private
    from gateway.core.runtime import Runtime
    from gateway.web.app import create_app

    settings = Settings.from_env()
    configure_logging(settings.log_level, settings.log_format)
    make_private(settings.var_dir)
    # Before any worker starts: each counts its USSD steps in files there, summed at a scrape.
    os.environ[METRICS_FOLDER_ENV] = str(_metrics_folder(settings.var_dir))
    embedded: EmbeddedRedis | None = None
    if not settings.redis_url:
        # One Redis for all gunicorn workers, started (or joined) here in the master: each
        # worker starting its own would split the live sessions between servers.
        embedded = EmbeddedRedis.start_or_join(settings)
        settings = replace(settings, redis_url=embedded.url)
    app_settings = settings
    # Check flows and settings once here: a worker failing to boot only says "exit code 3".
    Runtime.build(app_settings).engine.dispose()

    options: dict[str, Any] = {
        "bind": f"{settings.host}:{settings.port}",
        "workers": settings.web_workers,
        "timeout": 30,
        "graceful_timeout": int(STOP_TIMEOUT_S) - 2,
        "preload_app": False,
        "accesslog": "-" if access_log else None,
        "errorlog": "-",
        "loglevel": settings.log_level.lower(),
        "proc_name": "survey-gateway-web",
    }
    if embedded is not None and embedded.owned:
        options["post_fork"] = _disown_in_worker(embedded)
    if settings.log_format == "json":
        options["logger_class"] = _json_gunicorn_logger()

    class GatewayApplication(BaseApplication):  # type: ignore[misc]
        """gunicorn, configured in code and serving ``create_app(settings)``."""

        def load_config(self) -> None:
            """Apply our options; nothing is read from the command line or a file."""
            for key, value in options.items():
                self.cfg.set(key, value)
            if "control_socket_disable" in self.cfg.settings:
                # gunicorn 25+ opens a control socket in $HOME: two gateways would share it.
                self.cfg.set("control_socket_disable", True)

        def load(self) -> Any:
            """Build the app in each worker (``preload_app=False``)."""
            return create_app(app_settings)

    master = os.getpid()
    try:
        GatewayApplication().run()
    finally:
        # gunicorn's forked workers leave through here too: only the master owns the Redis.
        if os.getpid() == master:
            shutil.rmtree(os.environ.pop(METRICS_FOLDER_ENV), ignore_errors=True)
            if embedded is not None:
                embedded.stop()


def _metrics_folder(var_dir: Path) -> Path:
    """An empty folder for this ``serve``'s workers' counts (another on this machine, with
    the same var folder, has its own)."""
    folder = var_dir / "metrics" / str(os.getpid())
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, mode=0o700)
    return folder


def _disown_in_worker(embedded: EmbeddedRedis) -> Any:
    """A gunicorn ``post_fork`` hook: the forked worker must never stop the master's Redis."""

    def post_fork(_server: Any, _worker: Any) -> None:
        embedded.disown()

    return post_fork


def _json_gunicorn_logger() -> type:
    """gunicorn's logger, writing its error and access lines as our JSON lines (masked), so a
    log collector reads one format from the whole process."""
    from gunicorn.glogging import Logger

    from gateway.core.logs import formatter_for

    class JsonLogger(Logger):  # type: ignore[misc]
        def setup(self, cfg: Any) -> None:
            super().setup(cfg)
            for logger in (self.error_log, self.access_log):
                for handler in logger.handlers:
                    handler.setFormatter(formatter_for("json"))

    return JsonLogger


@click.command()
def worker() -> None:
    """Run an RQ worker: store answers, send (or record) SMS, retry later what failed.

    It waits out Redis or the database being unreachable (restarting, loading, failing over)
    and carries on once they answer.
    """
    from gateway.core.logs import configure_logging
    from gateway.processes.worker import run_worker

    settings = Settings.from_env()
    configure_logging(settings.log_level, settings.log_format)
    run_worker(settings)
