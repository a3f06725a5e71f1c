"""``GET /healthz`` says whether Redis and the database answer, and names what failed."""

from __future__ import annotations

import redis
from flask.testing import FlaskClient

from gateway.core.db import upgrade
from gateway.core.settings import Settings
from gateway.core.version import gateway_version
from gateway.web.app import create_app


def test_healthy_when_redis_and_the_database_answer(client: FlaskClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ok",
        "checks": {"redis": "ok", "database": "ok"},
        "version": gateway_version(),
    }


def test_503_names_redis_when_it_is_down(settings: Settings) -> None:
    upgrade(settings.database_url)
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    app = create_app(settings, client=dead)

    response = app.test_client().get("/healthz")

    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "failing"
    assert body["checks"]["redis"].startswith("failed: ")
    assert body["checks"]["database"] == "ok"


def test_503_names_the_database_when_it_is_down(
    tmp_path: object, redis_client: redis.Redis
) -> None:
    settings = Settings.from_env(
        {
            "GATEWAY_VAR_DIR": str(tmp_path),
            "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1",
        }
    )
    app = create_app(settings, client=redis_client)

    response = app.test_client().get("/healthz")

    assert response.status_code == 503
    assert response.get_json()["checks"] == {
        "redis": "ok",
        "database": "failed: OperationalError",
    }
