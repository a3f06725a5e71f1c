"""``GET /metrics``: what Prometheus reads, and who may read it."""

from __future__ import annotations

import ipaddress
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import redis
import requests
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from gateway.core.runtime import Runtime
from gateway.core.settings import Settings
from gateway.messaging.sender import AfricasTalkingSender
from gateway.staff.models import Role
from gateway.staff.tokens import create_token
from gateway.surveys.services import purge_expired
from gateway.web.app import create_app
from tests.at_server import COST, FakeATServer
from tests.phone import FULL_SURVEY_RETURN, Phone
from tests.processes.test_cli import REPO, cli_env, free_port, gateway, poll, stop_process

METRICS_TOKEN = "Zp4wQ8rT2vX6yB1nM5kL9hJ3gF7dS0aE"


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def tokens(runtime: Runtime) -> dict[Role, str]:
    """A live API token's secret per role."""
    with runtime.sessions.begin() as session:
        return {
            role: create_token(session, name=role.value, role=role, actor="cli").secret
            for role in Role
        }


def figures(client: FlaskClient, secret: str) -> dict[tuple[str, tuple[str, ...]], float]:
    """Every sample /metrics shows: (name, label values) -> value."""
    response = client.get("/metrics", headers=bearer(secret))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    return samples(response.get_data(as_text=True))


def samples(text: str) -> dict[tuple[str, tuple[str, ...]], float]:
    """Prometheus' text format read back: (name, label values) -> value."""
    return {
        (sample.name, tuple(sample.labels.values())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_only_an_admin_token_or_the_metrics_token_reads_the_figures(
    client: FlaskClient, tokens: dict[Role, str], settings: Settings, redis_client: redis.Redis
) -> None:
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics").get_json()["message"].startswith("this needs an API token")
    assert client.get("/metrics", headers=bearer(tokens[Role.MANAGER])).status_code == 403
    assert client.get("/metrics", headers=bearer(METRICS_TOKEN)).status_code == 401  # unset
    assert ("gateway_dependency_up", ("redis",)) in figures(client, tokens[Role.ADMIN])

    with_token = create_app(replace(settings, metrics_token=METRICS_TOKEN), client=redis_client)
    assert with_token.test_client().get("/metrics", headers=bearer("x" * 32)).status_code == 401
    assert ("gateway_sms", ("delivered",)) in figures(with_token.test_client(), METRICS_TOKEN)


def test_ussd_steps_sms_and_the_queue_are_counted(
    client: FlaskClient, runtime: Runtime, tokens: dict[Role, str], run_jobs: Callable[..., int]
) -> None:
    admin = tokens[Role.ADMIN]
    before = figures(client, admin)
    phone = Phone(client)
    phone.dial()
    phone.answer_all(FULL_SURVEY_RETURN)
    run_jobs()  # stores the run, records its confirmation SMS
    failing = runtime.queue.enqueue(ipaddress.ip_address, "not an address")
    run_jobs()
    waiting = runtime.queue.enqueue(ipaddress.ip_address, "127.0.0.1")

    after = figures(client, admin)

    steps = 1 + len(FULL_SURVEY_RETURN)
    delta = after[("gateway_ussd_steps_total", ("200",))] - before.get(
        ("gateway_ussd_steps_total", ("200",)), 0
    )
    assert delta == steps
    timed = after[("gateway_ussd_step_seconds_count", ())] - before.get(
        ("gateway_ussd_step_seconds_count", ()), 0
    )
    assert timed == steps
    assert after[("gateway_sms", ("recorded",))] == 1
    assert after[("gateway_sms", ("failed",))] == 0
    assert after[("gateway_campaigns", ("running",))] == 0
    assert after[("gateway_failed_jobs", ())] == 1 and failing.is_failed
    assert after[("gateway_queue_jobs", ())] == 1 and waiting.get_status() == "queued"
    assert 0 <= after[("gateway_queue_oldest_job_age_seconds", ())] < 60
    assert after[("gateway_dependency_up", ("redis",))] == 1
    assert after[("gateway_dependency_up", ("database",))] == 1


def test_what_at_charged_is_summed_per_currency_and_the_last_purge_is_timed(
    client: FlaskClient,
    runtime: Runtime,
    tokens: dict[Role, str],
    run_jobs: Callable[..., int],
    at_server: FakeATServer,
) -> None:
    admin = tokens[Role.ADMIN]
    sender = AfricasTalkingSender("sandbox", "k", api_url=at_server.url)
    for number in ("+22376123456", "+22376123457", "+22376123458"):
        phone = Phone(client, number=number)
        phone.dial()
        phone.answer_all(FULL_SURVEY_RETURN)
    run_jobs(sender)  # three confirmations, each taken by AT at its cost
    currency, amount = COST.split()

    before_purge = figures(client, admin)
    purge_expired(runtime, "cli")
    after_purge = figures(client, admin)

    assert before_purge[("gateway_sms", ("sent",))] == 3
    assert before_purge[("gateway_sms_cost", (currency,))] == pytest.approx(3 * float(amount))
    assert [key for key in before_purge if key[0] == "gateway_sms_cost"] == [
        ("gateway_sms_cost", (currency,))
    ]
    # Never purged yet: no age at all, which an alert tells from a recent purge.
    assert ("gateway_retention_purge_age_seconds", ()) not in before_purge
    assert 0 <= after_purge[("gateway_retention_purge_age_seconds", ())] < 60


def test_with_redis_down_the_metrics_token_still_reads_which_is_down(
    app: Flask, settings: Settings
) -> None:
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    down = create_app(replace(settings, metrics_token=METRICS_TOKEN), client=dead)

    shown = figures(down.test_client(), METRICS_TOKEN)

    assert shown[("gateway_dependency_up", ("redis",))] == 0
    assert shown[("gateway_dependency_up", ("database",))] == 1
    assert ("gateway_queue_jobs", ()) not in shown  # unknown, not 0


def test_gunicorns_workers_counts_are_summed(tmp_path: Path) -> None:
    port = free_port()
    env = cli_env(tmp_path / "var", port) | {
        "GATEWAY_METRICS_TOKEN": METRICS_TOKEN,
        "GATEWAY_WEB_WORKERS": "2",
    }
    assert gateway(env, "db", "upgrade").returncode == 0
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "serve"],
            env=env,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool | None:
            if server.poll() is not None:
                pytest.fail(f"serve exited with {server.returncode}:\n{log.read_text()}")
            try:
                return requests.get(f"{base}/healthz", timeout=2).ok or None
            except requests.RequestException:
                return None

        poll("serve to answer", up, timeout=30)
        # New connections each: gunicorn's workers take them in turn, as they come.
        for i in range(12):
            form = {"sessionId": f"ATUid_m{i}", "phoneNumber": "+22376123456", "text": ""}
            assert requests.post(f"{base}/ussd", data=form, timeout=5).status_code == 200
        page = requests.get(f"{base}/metrics", headers=bearer(METRICS_TOKEN), timeout=5)
    finally:
        stop_process(server)

    shown = samples(page.text)
    assert shown[("gateway_ussd_steps_total", ("200",))] == 12
    assert shown[("gateway_ussd_step_seconds_count", ())] == 12
    assert shown[("gateway_dependency_up", ("database",))] == 1
    assert not (tmp_path / "var" / "metrics" / str(server.pid)).exists()  # cleaned up
