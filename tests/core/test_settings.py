"""Production refuses to start on missing, placeholder or laptop settings, naming the setting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from gateway.core.errors import ConfigError
from gateway.core.settings import PasswordHashProfile, Settings

# The test suite's own key, printed here for anyone to read: production must refuse it.
PUBLISHED_KEY = "ik4sbLoHGyZfeMIL0uLB_v6wzTuk9hsQWyC_jvWMO7s="
# A valid key of no consequence: fixed, so the test ids are the same in every test process.
OTHER_KEY = "IbNj22oRWSdYoU3sGr9vefvuimxZVuzbwkyQZJ9pJ2U="
STRONG = {
    "GATEWAY_ENV": "production",
    "GATEWAY_SECRET_KEY": "uT4nq8WZr1Lk0Vb9Xc2Md7Pf3Hs6Jy5Ga",
    "GATEWAY_SESSION_KEY": "e9Rk2Wq7Tn4Yb1Zx8Lc5Vm0Hf3Gd6Js_",
    "GATEWAY_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "GATEWAY_WEBHOOK_TOKEN": "Qm7v2Lr9Xw4Tz8Kp1Bn6Hd3Jf5Gs0Ya_",
    "DATABASE_URL": "postgresql://gateway@db/gateway",
    "REDIS_URL": "redis://cache:6379/0",
}


def test_production_starts_with_strong_settings() -> None:
    settings = Settings.from_env(STRONG)
    assert settings.is_production and settings.redis_url == "redis://cache:6379/0"
    assert settings.password_hash_profile is PasswordHashProfile.RFC_9106_LOW_MEMORY
    high = Settings.from_env({**STRONG, "GATEWAY_PASSWORD_HASH_PROFILE": "rfc9106-high-memory"})
    assert high.password_hash_profile is PasswordHashProfile.RFC_9106_HIGH_MEMORY
    assert settings.metrics_token is None  # optional
    watched = Settings.from_env(
        {**STRONG, "GATEWAY_METRICS_TOKEN": "Wc3nR8tY1uI6oP2aS9dF4gH7jK0lZ5xV"}
    )
    assert watched.metrics_token == "Wc3nR8tY1uI6oP2aS9dF4gH7jK0lZ5xV"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("GATEWAY_SECRET_KEY", "", "needs these settings: GATEWAY_SECRET_KEY"),
        ("REDIS_URL", "", "needs these settings: REDIS_URL"),
        ("DATABASE_URL", "", "needs these settings: DATABASE_URL"),
        ("GATEWAY_SECRET_KEY", "change-me-change-me-change-me-change-me", "GATEWAY_SECRET_KEY"),
        ("GATEWAY_SECRET_KEY", "short", "shorter than 32"),
        ("GATEWAY_SESSION_KEY", "", "needs these settings: GATEWAY_SESSION_KEY"),
        ("GATEWAY_SESSION_KEY", "session-key-change-me-change-me-change", "GATEWAY_SESSION_KEY"),
        ("GATEWAY_SESSION_KEY", "short", "GATEWAY_SESSION_KEY .* shorter than 32"),
        ("GATEWAY_SESSION_KEY", STRONG["GATEWAY_SECRET_KEY"], "same as GATEWAY_SECRET_KEY"),
        ("GATEWAY_WEBHOOK_TOKEN", "my-secret-webhook-token-for-at-callbacks", "WEBHOOK_TOKEN"),
        ("GATEWAY_SECRET_KEY", "a" * 40, "GATEWAY_SECRET_KEY is a pattern"),
        ("GATEWAY_SESSION_KEY", "ab" * 20, "GATEWAY_SESSION_KEY is a pattern"),
        ("GATEWAY_WEBHOOK_TOKEN", "7" * 64, "GATEWAY_WEBHOOK_TOKEN is a pattern"),
        ("GATEWAY_ENCRYPTION_KEYS", PUBLISHED_KEY, "GATEWAY_ENCRYPTION_KEYS holds a published"),
        ("GATEWAY_ENCRYPTION_KEYS", "A" * 43 + "=", "GATEWAY_ENCRYPTION_KEYS holds a published"),
        (
            "GATEWAY_ENCRYPTION_KEYS",
            f"{OTHER_KEY},{PUBLISHED_KEY}",
            "GATEWAY_ENCRYPTION_KEYS holds a published",
        ),
        (
            "GATEWAY_WEBHOOK_TOKEN",
            STRONG["GATEWAY_SECRET_KEY"],
            "GATEWAY_WEBHOOK_TOKEN is the same as GATEWAY_SECRET_KEY",
        ),
        (
            "GATEWAY_WEBHOOK_TOKEN",
            STRONG["GATEWAY_SESSION_KEY"],
            "GATEWAY_WEBHOOK_TOKEN is the same as GATEWAY_SESSION_KEY",
        ),
        ("DATABASE_URL", "sqlite:///var/gateway.db", "production needs PostgreSQL"),
        ("GATEWAY_ENCRYPTION_KEYS", "not-a-fernet-key", "not a Fernet key"),
        ("GATEWAY_PASSWORD_HASH_PROFILE", "cheapest", "GATEWAY_PASSWORD_HASH_PROFILE=cheapest"),
        ("GATEWAY_PASSWORD_HASH_PROFILE", "fast", "GATEWAY_PASSWORD_HASH_PROFILE: 'fast'"),
        ("GATEWAY_METRICS_TOKEN", "metrics", "GATEWAY_METRICS_TOKEN .* shorter than 32"),
        (
            "GATEWAY_METRICS_TOKEN",
            STRONG["GATEWAY_WEBHOOK_TOKEN"],
            "GATEWAY_METRICS_TOKEN is the same as GATEWAY_WEBHOOK_TOKEN",
        ),
    ],
)
def test_production_refuses_and_names_the_setting(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({**STRONG, name: value})


def test_development_generates_secrets_once_and_shares_them(tmp_path: Path) -> None:
    env = {"GATEWAY_VAR_DIR": str(tmp_path)}
    first, second = Settings.from_env(env), Settings.from_env(env)

    assert len(first.secret_key) >= 32 and len(first.session_key) >= 32
    assert first.session_key != first.secret_key
    assert (first.secret_key, first.session_key, first.encryption_keys) == (
        second.secret_key,
        second.session_key,
        second.encryption_keys,
    )
    assert (tmp_path / "secrets.json").stat().st_mode & 0o077 == 0
    assert first.session_key not in repr(first) and first.secret_key not in repr(first)


def test_an_install_from_before_the_session_key_gets_one_and_keeps_its_secrets(
    tmp_path: Path,
) -> None:
    older = {
        "secret_key": "k2Vq8Rt5Yw1Zn4Xb7Lm0Hc3Jf6Gd9Ps_",
        "encryption_key": STRONG["GATEWAY_ENCRYPTION_KEYS"],
    }
    (tmp_path / "secrets.json").write_text(json.dumps(older))
    env = {"GATEWAY_VAR_DIR": str(tmp_path)}

    settings = Settings.from_env(env)

    assert settings.secret_key == older["secret_key"]
    assert settings.encryption_keys == (older["encryption_key"],)
    assert len(settings.session_key) >= 32 and settings.session_key != settings.secret_key
    assert Settings.from_env(env).session_key == settings.session_key


def test_the_log_format_is_text_or_json_and_nothing_else(tmp_path: Path) -> None:
    var = {"GATEWAY_VAR_DIR": str(tmp_path)}

    assert Settings.from_env(var).log_format == "text"
    assert Settings.from_env(var | {"GATEWAY_LOG_FORMAT": " JSON "}).log_format == "json"
    with pytest.raises(ConfigError, match="GATEWAY_LOG_FORMAT: 'xml' is not a format"):
        Settings.from_env(var | {"GATEWAY_LOG_FORMAT": "xml"})
