"""With GATEWAY_WEBHOOK_TOKEN set, AT callbacks without the secret are refused."""

from __future__ import annotations

from dataclasses import replace

import pytest
import redis
from cryptography.fernet import Fernet
from flask.testing import FlaskClient

from gateway.core.db import upgrade
from gateway.core.errors import ConfigError
from gateway.core.settings import Settings
from gateway.web.app import create_app

TOKEN = "9dN3-secret-token"
USSD_FORM = {
    "sessionId": "ATUid_tok",
    "serviceCode": "*384*123#",
    "phoneNumber": "+22376123456",
    "networkCode": "61001",
    "text": "",
}
SMS_FORM = {"from": "+22376123456", "to": "38412", "text": "ENQUETE", "id": "ATXid_t1"}
DLR_FORM = {"id": "ATXid_1", "status": "Success", "phoneNumber": "+22376123456"}


@pytest.fixture
def guarded(settings: Settings, redis_client: redis.Redis) -> FlaskClient:
    upgrade(settings.database_url)
    return create_app(replace(settings, webhook_token=TOKEN), client=redis_client).test_client()


@pytest.mark.parametrize("query", ["", "?token=", "?token=9dN3-secret-tokeN", "?tok=" + TOKEN])
def test_callbacks_without_the_right_token_are_refused(
    guarded: FlaskClient, redis_client: redis.Redis, query: str
) -> None:
    ussd = guarded.post("/ussd" + query, data=USSD_FORM)
    sms = guarded.post("/sms/inbound" + query, data=SMS_FORM)
    dlr = guarded.post("/sms/delivery" + query, data=DLR_FORM)
    events = guarded.post("/ussd/events" + query, data={"sessionId": "x", "status": "Failed"})

    assert ussd.status_code == 403
    assert ussd.get_data(as_text=True) == "END Service non autorise. / Service not authorised."
    assert sms.status_code == dlr.status_code == events.status_code == 403
    assert sms.get_json()["message"] == "missing or wrong webhook token"
    assert list(redis_client.scan_iter("*")) == []  # nothing stored, nothing queued


def test_callbacks_with_the_token_work(guarded: FlaskClient) -> None:
    ussd = guarded.post(f"/ussd?token={TOKEN}", data=USSD_FORM)

    assert ussd.status_code == 200
    assert ussd.get_data(as_text=True).startswith("CON OIM/DNDS")
    assert guarded.post(f"/sms/inbound?token={TOKEN}", data=SMS_FORM).status_code == 200


def test_health_needs_no_token(guarded: FlaskClient) -> None:
    assert guarded.get("/healthz").status_code == 200


def test_production_refuses_to_start_without_a_webhook_token(tmp_path: object) -> None:
    env = {
        "GATEWAY_ENV": "production",
        "GATEWAY_SECRET_KEY": "uT4nq8WZr1Lk0Vb9Xc2Md7Pf3Hs6Jy5Ga",
        "GATEWAY_SESSION_KEY": "e9Rk2Wq7Tn4Yb1Zx8Lc5Vm0Hf3Gd6Js_",
        "GATEWAY_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": "postgresql://db/x",
        "REDIS_URL": "redis://r:6379/0",
    }
    with pytest.raises(ConfigError, match="GATEWAY_WEBHOOK_TOKEN"):
        Settings.from_env(env)
    strong = "Qm7v2Lr9Xw4Tz8Kp1Bn6Hd3Jf5Gs0Ya_"
    assert Settings.from_env({**env, "GATEWAY_WEBHOOK_TOKEN": strong}).webhook_token == strong


def test_secrets_stay_out_of_the_settings_repr(settings: Settings) -> None:
    shown = repr(replace(settings, webhook_token=TOKEN, at_api_key="at-key-123"))
    assert TOKEN not in shown and "at-key-123" not in shown
    assert settings.secret_key not in shown


@pytest.fixture
def at_only(settings: Settings, redis_client: redis.Redis) -> FlaskClient:
    upgrade(settings.database_url)
    limited = replace(settings, webhook_networks=("196.201.214.0/24",))
    return create_app(limited, client=redis_client).test_client()


def test_callbacks_from_outside_the_allowed_networks_are_refused(
    at_only: FlaskClient, redis_client: redis.Redis
) -> None:
    outside = at_only.post("/ussd", data=USSD_FORM, environ_base={"REMOTE_ADDR": "8.8.8.8"})
    inside = at_only.post("/ussd", data=USSD_FORM, environ_base={"REMOTE_ADDR": "196.201.214.17"})

    assert outside.status_code == 403
    assert inside.status_code == 200 and inside.get_data(as_text=True).startswith("CON ")


def test_behind_a_proxy_the_forwarded_address_counts(
    settings: Settings, redis_client: redis.Redis
) -> None:
    upgrade(settings.database_url)
    limited = replace(settings, webhook_networks=("196.201.214.0/24",), trusted_proxies=1)
    client = create_app(limited, client=redis_client).test_client()
    proxy = {"REMOTE_ADDR": "10.0.0.2"}

    forwarded = client.post(
        "/ussd",
        data=USSD_FORM,
        headers={"X-Forwarded-For": "196.201.214.17"},
        environ_base=proxy,
    )
    direct = client.post("/ussd", data=USSD_FORM, environ_base=proxy)

    assert forwarded.status_code == 200
    assert direct.status_code == 403


def test_a_bad_network_setting_is_named(tmp_path: object) -> None:
    env = {"GATEWAY_VAR_DIR": str(tmp_path), "GATEWAY_WEBHOOK_NETWORKS": "196.201.214.0/24, AT"}
    with pytest.raises(ConfigError, match="GATEWAY_WEBHOOK_NETWORKS: 'AT' is not a network"):
        Settings.from_env(env)
