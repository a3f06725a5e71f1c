"""The shipped deployment on one machine: nginx in front of two web nodes, two workers, Redis.

nginx runs the site of ``deploy/nginx`` (its upstream and its HTTPS server's settings and
locations, with TLS left out and the test's ports and folders put in). Households answer the
USSD survey through it while one web node is killed with SIGKILL: nginx must send every step,
the ones the dead node held included, to the other node, so that no household loses a screen,
and the workers must store every completed survey.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet
from sqlalchemy import select

from gateway.core.crypto import pseudonymise
from gateway.core.db import make_engine
from gateway.surveys.models import StoredAnswer, Submission, SubmissionStatus
from tests.bench_wrk import ANSWERS
from tests.faults.processes import Processes, signal_group
from tests.faults.topology import Gateway, RedisServer, free_port
from tests.faults.traffic import AtCallbacks, CallbackStats, Households
from tests.processes.test_cli import REPO, poll

NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
)
SITE = REPO / "deploy" / "nginx" / "survey-gateway.conf"
LINES = 12
THINK_S = 0.3
LOAD_BEFORE_KILL_S = 6.0
LOAD_AFTER_KILL_S = 12.0

# In CI (.ci/run installs it) a missing nginx fails the test instead.
pytestmark = pytest.mark.skipif(
    NGINX is None and not os.environ.get("CI"),
    reason="nginx is not installed (apt install nginx-light)",
)


def render_site(site: str, nodes: list[str], port: int, folder: Path) -> str:
    """The shipped site as this test runs it: its upstream with the test's nodes, its HTTPS
    server on a plain local port, logs in ``folder``; the port 80 redirect left out."""
    upstream = _block(site, "upstream survey_gateway")
    parameters = re.search(r"^\s*server \S+ ([^;]*);", upstream, re.M)
    assert parameters is not None, "the shipped upstream names no server"
    servers = "".join(f"    server {node} {parameters.group(1)};\n" for node in nodes)
    upstream = re.sub(r"^\s*server \S+ [^;]*;\n", "", upstream, flags=re.M)
    upstream = upstream.replace("{\n", "{\n" + servers, 1)
    https = next(b for b in _blocks(site, "server") if "listen 443" in b)
    https = re.sub(r"^\s*listen [^;]*;\n", "", https, flags=re.M)
    https = re.sub(r"^\s*ssl_[^;]*;\n", "", https, flags=re.M)
    https = https.replace("{\n", f"{{\n    listen 127.0.0.1:{port};\n", 1)
    https = re.sub(r"/var/log/nginx/", f"{folder}/", https)
    log_format = re.search(r"^log_format [^;]*;", site, re.M | re.S)
    assert log_format is not None
    return "\n".join([log_format.group(0), upstream, https])


def _blocks(text: str, header: str) -> list[str]:
    """Every top-level ``header { ... }`` block of ``text``, braces balanced."""
    found = []
    for match in re.finditer(rf"^{re.escape(header)} \{{\n", text, re.M):
        depth, end = 0, match.end() - 2
        for end in range(match.end() - 2, len(text)):
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            if depth == 0:
                break
        found.append(text[match.start() : end + 1])
    return found


def _block(text: str, header: str) -> str:
    blocks = _blocks(text, header)
    assert len(blocks) == 1, f"the shipped site has {len(blocks)} '{header}' blocks"
    return blocks[0]


def nginx_config(site: str, folder: Path) -> str:
    """A whole nginx.conf around the site, run as this user with everything in ``folder``."""
    temp = {name: folder / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    return "\n".join(
        [
            "daemon off;",
            "worker_processes 1;",
            f"pid {folder}/nginx.pid;",
            f"error_log {folder}/error.log warn;",
            "events { worker_connections 256; }",
            "http {",
            f"    access_log {folder}/access.log;",
            f"    client_body_temp_path {temp['body']};",
            f"    proxy_temp_path {temp['proxy']};",
            f"    fastcgi_temp_path {temp['fastcgi']};",
            f"    uwsgi_temp_path {temp['uwsgi']};",
            f"    scgi_temp_path {temp['scgi']};",
            site,
            "}",
        ]
    )


def _settings(tmp_path: Path, redis_url: str) -> dict[str, str]:
    """What every gateway process of the deployment shares (the environment file)."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "AT_"))},
        "REDIS_URL": redis_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'gateway.db'}",
        "GATEWAY_SECRET_KEY": secrets.token_urlsafe(32),
        "GATEWAY_SESSION_KEY": secrets.token_urlsafe(32),
        "GATEWAY_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "GATEWAY_WEBHOOK_TOKEN": secrets.token_urlsafe(32),
        "GATEWAY_TRUSTED_PROXIES": "1",
        "GATEWAY_WEB_WORKERS": "2",
        "GATEWAY_LOG_LEVEL": "WARNING",
        "GATEWAY_PASSWORD_HASH_PROFILE": "cheapest",
    }


class Deployment:
    """Redis, two workers, two web nodes (each with a var folder of its own, as on two
    machines) and nginx, all stopped at the end."""

    def __init__(self, tmp_path: Path) -> None:
        self.folder = tmp_path
        self.processes = Processes()
        self.redis = RedisServer(self.processes, tmp_path / "redis")
        self.nodes: dict[str, subprocess.Popen[bytes]] = {}
        self.env: dict[str, str] = {}
        self.port = free_port()

    def start(self) -> None:
        self.redis.start()
        self.env = _settings(self.folder, self.redis.url)
        cli = [sys.executable, "-m", "gateway.cli"]
        # The upgrade order of deploy/systemd: the workers first (one migrates the database).
        for i in (1, 2):
            env = {**self.env, "GATEWAY_VAR_DIR": str(self.folder / f"worker{i}")}
            self.processes.start([*cli, "worker"], env, self.folder / f"worker{i}.log")
        for name in ("a", "b"):
            port = free_port()
            env = {
                **self.env,
                "GATEWAY_VAR_DIR": str(self.folder / f"node-{name}"),
                "PORT": str(port),
            }
            node = self.processes.start([*cli, "serve"], env, self.folder / f"node-{name}.log")
            self.nodes[f"127.0.0.1:{port}"] = node
        for address in self.nodes:
            poll(f"the web node {address}", lambda a=address: _healthy(f"http://{a}"), timeout=40)
        site = render_site(SITE.read_text(), list(self.nodes), self.port, self.folder)
        config = self.folder / "nginx.conf"
        config.write_text(nginx_config(site, self.folder))
        checked = subprocess.run([NGINX or "nginx", "-t", "-c", str(config)], capture_output=True)
        assert checked.returncode == 0, checked.stderr.decode()
        self.processes.start(
            [NGINX or "nginx", "-c", str(config)], self.env, self.folder / "nginx.out"
        )
        poll("nginx", lambda: _healthy(self.base_url), timeout=10)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill_node(self, address: str) -> None:
        """SIGKILL a web node and its gunicorn workers: a machine lost, mid-request."""
        signal_group(self.nodes[address], signal.SIGKILL)
        self.nodes[address].wait()


def _healthy(base_url: str) -> bool | None:
    try:
        return requests.get(f"{base_url}/healthz", timeout=2).status_code == 200 or None
    except requests.RequestException:
        return None


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    assert NGINX is not None, "nginx is not installed (apt install nginx-light)"
    started = Deployment(tmp_path)
    try:
        started.start()
        yield started
    finally:
        started.processes.stop_all()


def stored_answers(
    database_url: str, secret_key: str, phones: list[str]
) -> dict[str, dict[str, str]]:
    """The answers of each number's completed submission, as the workers stored them."""
    by_pseudonym = {pseudonymise(phone, secret_key): phone for phone in phones}
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(Submission.respondent_id, StoredAnswer.key, StoredAnswer.value)
                .join(StoredAnswer, StoredAnswer.submission_id == Submission.id)
                .where(
                    Submission.respondent_id.in_(list(by_pseudonym)),
                    Submission.status == SubmissionStatus.COMPLETED,
                )
            )
            stored: dict[str, dict[str, str]] = {}
            for respondent, key, value in rows:
                stored.setdefault(by_pseudonym[respondent], {})[key] = value
    finally:
        engine.dispose()
    return stored


def test_a_web_node_killed_under_ussd_load_costs_no_household_a_screen(
    deployment: Deployment,
) -> None:
    env = deployment.env
    gateway = Gateway(
        env, deployment.base_url, env["GATEWAY_WEBHOOK_TOKEN"], env["GATEWAY_SECRET_KEY"]
    )
    stats = CallbackStats()
    households = Households(AtCallbacks(gateway, stats), lines=LINES, think_s=THINK_S)
    households.start()
    time.sleep(LOAD_BEFORE_KILL_S)
    dead, alive = list(deployment.nodes)
    deployment.kill_node(dead)
    time.sleep(LOAD_AFTER_KILL_S)
    households.stop()

    assert households.confirmed, "no household finished the survey"
    # Every step got its screen the first time: no 5xx, no dropped connection, no
    # "service unavailable" screen, no household dialling again.
    assert not stats.server_errors, stats.server_errors
    assert not stats.unanswered, stats.unanswered
    assert stats.unavailable_screens == 0
    assert households.redials == 0
    assert households.gave_up == 0
    # The kill happened under load: nginx found the dead node and sent steps on to the other.
    access = (deployment.folder / "survey-gateway.access.log").read_text()
    retried = [line for line in access.splitlines() if f"upstream={dead}, {alive}" in line]
    assert retried, "no USSD step was sent on from the dead node"
    assert all('"POST /ussd ' in line for line in retried)
    assert "token=" not in access

    # One stored answer per screen answered.
    expected = len(ANSWERS)

    def all_stored() -> dict[str, dict[str, str]] | None:
        stored = stored_answers(
            env["DATABASE_URL"], env["GATEWAY_SECRET_KEY"], households.confirmed
        )
        complete = all(len(stored.get(p, {})) == expected for p in households.confirmed)
        return stored if complete else None

    stored = poll("the workers to store every completed survey", all_stored, timeout=20)
    assert {p: stored[p]["household_size"] for p in households.confirmed} == {
        p: "6" for p in households.confirmed
    }
