"""``survey-gateway run``: the whole gateway on one machine, supervised by one process.

It starts (or joins) the embedded Redis unless ``REDIS_URL`` is set, applies the migrations,
then runs two children, ``serve`` (gunicorn) and ``worker`` (RQ), each in a process group of
its own. It prints where everything is once the web server answers. A child that dies after
that is started again (see ``gateway.processes.children``), and so is the embedded Redis it started;
a child dying before the gateway was ever up stops it all. On Ctrl-C it stops the children
in order, then the Redis it started.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from types import FrameType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import click
import redis
import requests
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from gateway.core.errors import ConfigError
from gateway.core.settings import Settings
from gateway.processes.children import Child, first_dead, stop_children
from gateway.processes.local_http import (
    forget_running_url,
    http_session,
    local_base_url,
    note_running_url,
)

if TYPE_CHECKING:
    from gateway.core.redis_client import EmbeddedRedis

# How long the web server may take to answer /healthz after `run` starts it.
READY_TIMEOUT_S = 30.0
# How often `run` looks at its children and at the signals it received.
POLL_S = 0.2


class _Signals:
    """Records SIGINT, SIGTERM and SIGHUP instead of dying, so ``run`` can stop in order."""

    def __init__(self) -> None:
        self.received: int | None = None

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.received = signum

    def install(self) -> None:
        """Catch the stop signals from now on."""
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._handle)


@click.command()
def run() -> None:
    """Run the whole gateway here: Redis, database, web server and worker.

    Without REDIS_URL an embedded Redis is started for this run; without DATABASE_URL the
    data goes to SQLite under the var folder. Ctrl-C stops everything.
    """
    from gateway.core.db import upgrade
    from gateway.core.logs import configure_logging
    from gateway.core.redis_client import EmbeddedRedis, make_private
    from gateway.core.runtime import Runtime

    settings = Settings.from_env()
    configure_logging(settings.log_level, settings.log_format)
    _check_port_free(settings.host, settings.port)
    make_private(settings.var_dir)

    embedded: EmbeddedRedis | None = None
    children: list[Child] = []
    signals = _Signals()
    exit_code = 0
    try:
        if settings.redis_url:
            redis_url = settings.redis_url
        else:
            embedded = EmbeddedRedis.start_or_join(settings)
            redis_url = embedded.url
        child_settings = replace(settings, redis_url=redis_url)
        # Fail here, with one clear message, rather than in both children at once.
        runtime = Runtime.build(
            child_settings, client=embedded.client if embedded is not None else None
        )
        _ping_redis(runtime.redis, redis_url)
        runtime.engine.dispose()
        upgrade(settings.database_url)

        signals.install()
        env = _child_env(settings, redis_url)
        children = [
            Child.spawn("web server", "serve", env),
            Child.spawn("worker", "worker", env),
        ]
        ready = _wait_until_ready(settings, children, signals)
        if ready:
            note_running_url(settings)
            click.echo(_banner(child_settings, embedded))
        else:
            exit_code = _stopped_while_starting(children)
        while ready and signals.received is None:
            if embedded is not None and embedded.restart_if_dead():
                click.echo(
                    "The embedded Redis stopped unexpectedly; started it again on the same "
                    "data. The web server and the worker reconnect to it.",
                    err=True,
                )
            for child in children:
                if child.died():
                    child.plan_restart()
                child.restart_if_due()
            time.sleep(POLL_S)
        if signals.received is not None:
            click.echo(f"\n{signal.Signals(signals.received).name} received: stopping…", err=True)
    except KeyboardInterrupt:
        # Ctrl-C while Redis or the migrations were still starting: nothing else to stop.
        click.echo("\nInterrupted while starting.", err=True)
        exit_code = 130
    finally:
        stop_children(children)
        forget_running_url(settings)
        if embedded is not None:
            embedded.stop()
    if exit_code == 0:
        click.echo("Stopped.", err=True)
    sys.exit(exit_code)


def _check_port_free(host: str, port: int) -> None:
    """Refuse to start when another program listens on the port: gunicorn would only retry."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on {host}:{port} ({exc.strerror}): stop the program using it, "
                "or choose another port with PORT=..."
            ) from None


def _ping_redis(client: redis.Redis, url: str) -> None:
    """Check that Redis answers, naming it (password hidden) when it does not."""
    try:
        client.ping()
    except redis.RedisError as exc:
        raise ConfigError(f"Redis at {hide_password(url)} does not answer: {exc}") from None


def _child_env(settings: Settings, redis_url: str) -> dict[str, str]:
    """The children's environment: ours, plus the Redis they must share and the port."""
    env = dict(os.environ)
    env["REDIS_URL"] = redis_url
    env["PORT"] = str(settings.port)
    # Absolute, so the children agree with us whatever their working directory.
    env["GATEWAY_VAR_DIR"] = str(settings.var_dir)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _stopped_while_starting(children: Sequence[Child]) -> int:
    """Say which child stopped before the gateway was up; the exit code of ``run``."""
    dead = first_dead(children)
    if dead is None:
        return 0  # a stop signal came first
    click.echo(
        f"\nThe {dead.name} (survey-gateway {dead.command}) stopped with exit code "
        f"{dead.process.returncode} while starting; stopping the rest. See its messages above.",
        err=True,
    )
    return 1


def _wait_until_ready(settings: Settings, children: Sequence[Child], signals: _Signals) -> bool:
    """Wait for /healthz to answer 200; False if a child died or a stop signal came first."""
    url = local_base_url(settings) + "/healthz"
    deadline = time.monotonic() + READY_TIMEOUT_S
    with http_session(url) as http:
        while signals.received is None and first_dead(children) is None:
            try:
                if http.get(url, timeout=1).status_code == 200:
                    return True
            except requests.RequestException:
                pass  # not listening yet
            if time.monotonic() > deadline:
                click.echo(
                    f"The web server has not answered {url} within {READY_TIMEOUT_S:.0f} s; "
                    "still waiting. See its messages above.",
                    err=True,
                )
                return True
            time.sleep(POLL_S)
    return False


def hide_password(url: str) -> str:
    """``url`` with any password replaced by ``***``, safe to print."""
    try:
        parsed = make_url(url)
    except ArgumentError:  # not a URL SQLAlchemy can read: take it apart by hand
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rsplit("@", 1)[1]
        user = parts.username or ""
        return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))
    return parsed.render_as_string(hide_password=True)


def _redis_line(settings: Settings, embedded: EmbeddedRedis | None) -> str:
    """How the banner describes the Redis the children use."""
    if embedded is None:
        return hide_password(settings.redis_url or "")
    if embedded.owned:
        return f"embedded, for this run ({settings.redis_url})"
    return (
        f"embedded, already running for this folder ({settings.redis_url}); "
        "it stops with the process that started it"
    )


def _callback_guard(settings: Settings) -> str:
    """Whether the callbacks above need the webhook token: unset, anyone may post to them."""
    if settings.webhook_token:
        return "Callbacks need ?token=<GATEWAY_WEBHOOK_TOKEN>; others get 403."
    return (
        "Callbacks are ACCEPTED WITHOUT A TOKEN (GATEWAY_WEBHOOK_TOKEN is not set; "
        "production requires it)."
    )


def _banner(settings: Settings, embedded: EmbeddedRedis | None) -> str:
    """What `run` tells the person who started it: where things are and how to try them."""
    base = local_base_url(settings)
    lines = [
        "",
        "=" * 78,
        f" survey-gateway is running ({settings.env})",
        "=" * 78,
        f" Web server:    {base}",
        f" Health check:  {base}/healthz",
        "",
        " Africa's Talking callbacks (AT needs them on a public URL, e.g. through a tunnel):",
        f"   Callback URL:           {base}/ussd",
        f"   USSD events callback:   {base}/ussd/events",
        f"   SMS inbox callback:     {base}/sms/inbound",
        f"   SMS delivery reports:   {base}/sms/delivery",
        f"   USSD code:              {settings.ussd_code}  (survey: {settings.ussd_flow})",
        f"   {_callback_guard(settings)}",
        "",
        f" Data folder:   {settings.var_dir}",
        f" Database:      {hide_password(settings.database_url)}",
        f" Redis:         {_redis_line(settings, embedded)}",
        "",
    ]
    if settings.sends_sms:
        where = (
            "Africa's Talking SANDBOX (its simulator, not real phones)"
            if settings.at_username == "sandbox"
            else "Africa's Talking: real SMS to real phones, charged to the account"
        )
        lines.append(f" SMS:           SENT through {where}")
    else:
        lines += [
            " " + "!" * 77,
            " !! SMS ARE NOT SENT. AT_USERNAME / AT_API_KEY are not set, so outgoing SMS are",
            " !! ONLY RECORDED in the database and printed here by the console sender.",
            " !! Nothing leaves this machine.",
            " " + "!" * 77,
        ]
    lines += [
        "",
        " Try it from another terminal (same folder):",
        "   survey-gateway simulate ussd                      a phone in your terminal",
        "   survey-gateway simulate sms                       the same phone, texting",
        f"   survey-gateway export --flow {settings.ussd_flow:<20} the answers, as CSV",
        "   survey-gateway outbox                             the SMS sent (or recorded)",
        "",
        " Ctrl-C stops everything.",
        "=" * 78,
        "",
    ]
    return "\n".join(lines)
