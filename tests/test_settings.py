"""Production refuses to start on missing, placeholder or laptop settings, naming the setting."""

from __future__ import annotations

import pytest

from gateway.errors import ConfigError
from gateway.settings import Settings

STRONG = {
    "GATEWAY_ENV": "production",
    "GATEWAY_SECRET_KEY": "uT4nq8WZr1Lk0Vb9Xc2Md7Pf3Hs6Jy5Ga",
    "GATEWAY_ENCRYPTION_KEYS": "ik4sbLoHGyZfeMIL0uLB_v6wzTuk9hsQWyC_jvWMO7s=",
    "GATEWAY_WEBHOOK_TOKEN": "Qm7v2Lr9Xw4Tz8Kp1Bn6Hd3Jf5Gs0Ya_",
    "DATABASE_URL": "postgresql://gateway@db/gateway",
    "REDIS_URL": "redis://cache:6379/0",
}


def test_production_starts_with_strong_settings() -> None:
    settings = Settings.from_env(STRONG)
    assert settings.is_production and settings.redis_url == "redis://cache:6379/0"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("GATEWAY_SECRET_KEY", "", "needs these settings: GATEWAY_SECRET_KEY"),
        ("REDIS_URL", "", "needs these settings: REDIS_URL"),
        ("DATABASE_URL", "", "needs these settings: DATABASE_URL"),
        ("GATEWAY_SECRET_KEY", "change-me-change-me-change-me-change-me", "GATEWAY_SECRET_KEY"),
        ("GATEWAY_SECRET_KEY", "short", "shorter than 32"),
        ("GATEWAY_WEBHOOK_TOKEN", "my-secret-webhook-token-for-at-callbacks", "WEBHOOK_TOKEN"),
        ("DATABASE_URL", "sqlite:///var/gateway.db", "production needs PostgreSQL"),
        ("GATEWAY_ENCRYPTION_KEYS", "not-a-fernet-key", "not a Fernet key"),
    ],
)
def test_production_refuses_and_names_the_setting(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({**STRONG, name: value})


def test_development_generates_secrets_once_and_shares_them(tmp_path: object) -> None:
    env = {"GATEWAY_VAR_DIR": str(tmp_path)}
    first, second = Settings.from_env(env), Settings.from_env(env)

    assert len(first.secret_key) >= 32
    assert (first.secret_key, first.encryption_keys) == (second.secret_key, second.encryption_keys)
