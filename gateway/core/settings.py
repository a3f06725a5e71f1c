"""The one settings object: built from environment variables, read nowhere else.

Variables are prefixed ``GATEWAY_`` except the conventional ``REDIS_URL``, ``DATABASE_URL``,
``PORT`` and Africa's Talking's ``AT_*``. Outside production, missing secrets are generated once
and kept in ``<var>/secrets.json`` so the web process, the worker and the CLI agree on them.

Two keys, two jobs: ``secret_key`` keys the respondents' pseudonyms and must never change once
data exists; ``session_key`` signs the dashboard's session cookie (and so its CSRF tokens), and
changing it signs everyone out and nothing else.
"""

from __future__ import annotations

import fcntl
import ipaddress
import json
import os
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from cryptography.fernet import Fernet
from phonenumbers import SUPPORTED_REGIONS

from gateway.core.errors import ConfigError

PRODUCTION = "production"
# The flow field workers register through by SMS; not a setting: the gateway relies on its name.
ENUMERATOR_FLOW = "enumerator_registration"


class PasswordHashProfile(StrEnum):
    """What an argon2id password hash costs: the profiles of ``argon2.profiles``."""

    # RFC 9106's second recommendation (64 MiB, 3 passes): argon2-cffi's default.
    RFC_9106_LOW_MEMORY = "rfc9106-low-memory"
    # RFC 9106's first recommendation (2 GiB, 1 pass): for a server with memory to spare.
    RFC_9106_HIGH_MEMORY = "rfc9106-high-memory"
    # Next to no cost, so that test suites sign in quickly; refused in production.
    CHEAPEST = "cheapest"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the gateway is configured with."""

    env: str = "development"
    var_dir: Path = Path("var")
    secret_key: str = field(default="", repr=False)
    session_key: str = field(default="", repr=False)
    encryption_keys: tuple[str, ...] = field(default=(), repr=False)
    redis_url: str | None = None
    database_url: str = ""
    port: int = 8000
    host: str = "127.0.0.1"
    web_workers: int = 2
    ussd_code: str = "*384*123#"
    ussd_flow: str = "return_intention"
    flows_dir: Path | None = None
    log_level: str = "INFO"
    # "text" lines for people, "json" lines (one object each) for a log collector.
    log_format: str = "text"
    phone_region: str = "ML"
    at_username: str | None = None
    at_api_key: str | None = field(default=None, repr=False)
    at_sender_id: str | None = None
    at_shortcode: str | None = None
    at_api_url: str | None = None
    webhook_token: str | None = field(default=None, repr=False)
    # Lets Prometheus read /metrics without an account, and while Redis or the database is down.
    metrics_token: str | None = field(default=None, repr=False)
    retention_days: int = 90
    # Days without a report after which an approved enumerator is texted a reminder; 0: never.
    report_reminder_days: int = 0
    webhook_networks: tuple[str, ...] = ()
    trusted_proxies: int = 0
    ussd_session_ttl: int = 600
    # How long changed runs gather before a worker stores them together (ms); 0 stores at once.
    store_delay_ms: int = 1000
    password_hash_profile: PasswordHashProfile = PasswordHashProfile.RFC_9106_LOW_MEMORY
    max_request_bytes: int = 16 * 1024
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def flows_folder(self) -> Path:
        """Where imported flows are written and read: GATEWAY_FLOWS_DIR, else var/flows."""
        return self.flows_dir if self.flows_dir is not None else self.var_dir / "flows"

    @property
    def is_production(self) -> bool:
        """True when running with real people's data and real money."""
        return self.env == PRODUCTION

    @property
    def sends_sms(self) -> bool:
        """True when AT credentials are set, so SMS really go out."""
        return bool(self.at_username and self.at_api_key)

    @property
    def embedded_redis_path(self) -> Path:
        """Where the embedded Redis keeps its data file."""
        return self.var_dir / "redis.db"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from the environment (``os.environ`` unless given)."""
        env = dict(os.environ if environ is None else environ)

        def get(name: str, default: str | None = None) -> str | None:
            value = env.get(name)
            return value if value not in (None, "") else default

        mode = get("GATEWAY_ENV", "development") or "development"
        var_dir = Path(get("GATEWAY_VAR_DIR", "var") or "var").resolve()
        secret_key = get("GATEWAY_SECRET_KEY")
        session_key = get("GATEWAY_SESSION_KEY")
        keys_raw = get("GATEWAY_ENCRYPTION_KEYS") or get("GATEWAY_ENCRYPTION_KEY")
        database_url = get("DATABASE_URL")
        redis_url = get("REDIS_URL")
        hash_profile = _password_hash_profile(get("GATEWAY_PASSWORD_HASH_PROFILE"))

        if mode == PRODUCTION:
            missing = [
                name
                for name, value in (
                    ("GATEWAY_SECRET_KEY", secret_key),
                    ("GATEWAY_SESSION_KEY", session_key),
                    ("GATEWAY_ENCRYPTION_KEYS", keys_raw),
                    ("DATABASE_URL", database_url),
                    ("REDIS_URL", redis_url),
                    ("GATEWAY_WEBHOOK_TOKEN", get("GATEWAY_WEBHOOK_TOKEN")),
                )
                if not value
            ]
            if missing:
                raise ConfigError(
                    "GATEWAY_ENV=production needs these settings: " + ", ".join(missing)
                )
            _refuse_weak_production(
                {
                    "GATEWAY_SECRET_KEY": secret_key or "",
                    "GATEWAY_SESSION_KEY": session_key or "",
                    "GATEWAY_WEBHOOK_TOKEN": get("GATEWAY_WEBHOOK_TOKEN") or "",
                }
                # Optional; when set, as strong and as distinct as the others.
                | ({"GATEWAY_METRICS_TOKEN": m} if (m := get("GATEWAY_METRICS_TOKEN")) else {}),
                [k.strip() for k in (keys_raw or "").split(",") if k.strip()],
                database_url or "",
            )
            if hash_profile is PasswordHashProfile.CHEAPEST:
                raise ConfigError(
                    f"GATEWAY_PASSWORD_HASH_PROFILE={hash_profile} is for tests: production "
                    f"needs {PasswordHashProfile.RFC_9106_LOW_MEMORY} (the default) or "
                    f"{PasswordHashProfile.RFC_9106_HIGH_MEMORY}"
                )
        if not secret_key or not session_key or not keys_raw:
            generated = _dev_secrets(var_dir)
            secret_key = secret_key or generated["secret_key"]
            session_key = session_key or generated["session_key"]
            keys_raw = keys_raw or generated["encryption_key"]
        encryption_keys = tuple(k.strip() for k in keys_raw.split(",") if k.strip())
        for key in encryption_keys:
            try:
                Fernet(key)
            except (ValueError, TypeError) as exc:
                raise ConfigError(
                    "GATEWAY_ENCRYPTION_KEYS holds a key that is not a Fernet key "
                    "(make one with: survey-gateway keys new)"
                ) from exc

        flows_dir = get("GATEWAY_FLOWS_DIR")
        try:
            port = int(get("PORT", "8000") or "8000")
            web_workers = int(get("GATEWAY_WEB_WORKERS", "2") or "2")
            session_ttl = int(get("GATEWAY_USSD_SESSION_TTL", "600") or "600")
            store_delay_ms = max(0, int(get("GATEWAY_STORE_DELAY_MS", "1000") or "1000"))
            retention_days = int(get("GATEWAY_RETENTION_DAYS", "90") or "90")
            report_reminder_days = int(get("GATEWAY_REPORT_REMINDER_DAYS", "0") or "0")
            trusted_proxies = int(get("GATEWAY_TRUSTED_PROXIES", "0") or "0")
        except ValueError as exc:
            raise ConfigError(f"a numeric setting is not a number: {exc}") from exc
        if report_reminder_days < 0:
            raise ConfigError("GATEWAY_REPORT_REMINDER_DAYS is a number of days, or 0 for never")

        return cls(
            env=mode,
            var_dir=var_dir,
            secret_key=secret_key,
            session_key=session_key,
            encryption_keys=encryption_keys,
            redis_url=redis_url,
            database_url=database_url or f"sqlite:///{var_dir / 'gateway.db'}",
            port=port,
            host=get("GATEWAY_HOST", "127.0.0.1") or "127.0.0.1",
            web_workers=web_workers,
            ussd_code=get("GATEWAY_USSD_CODE", "*384*123#") or "*384*123#",
            ussd_flow=get("GATEWAY_USSD_FLOW", "return_intention") or "return_intention",
            flows_dir=Path(flows_dir).resolve() if flows_dir else None,
            log_level=_log_level(get("GATEWAY_LOG_LEVEL")),
            log_format=_log_format(get("GATEWAY_LOG_FORMAT")),
            phone_region=_phone_region(get("GATEWAY_PHONE_REGION")),
            at_username=get("AT_USERNAME"),
            at_api_key=get("AT_API_KEY"),
            at_sender_id=get("AT_SENDER_ID"),
            at_shortcode=get("AT_SHORTCODE"),
            at_api_url=get("GATEWAY_AT_API_URL"),
            webhook_token=get("GATEWAY_WEBHOOK_TOKEN"),
            metrics_token=get("GATEWAY_METRICS_TOKEN") or None,
            retention_days=retention_days,
            report_reminder_days=report_reminder_days,
            webhook_networks=_networks(get("GATEWAY_WEBHOOK_NETWORKS") or ""),
            trusted_proxies=trusted_proxies,
            ussd_session_ttl=session_ttl,
            store_delay_ms=store_delay_ms,
            password_hash_profile=hash_profile,
        )


# Values copied from documentation or examples: a deployment using one has no secret at all.
_PLACEHOLDERS = ("change", "secret", "example", "default", "password", "xxx", "todo")
MIN_SECRET_LENGTH = 32
_MAKE_ONE = 'set a long random value (python -c "import secrets; print(secrets.token_urlsafe(32))")'
# A random secret of 32 characters or more shows dozens of different characters; a handful
# means a typed pattern ("a" * 40, "abab...").
MIN_DISTINCT_CHARACTERS = 6
# Encryption keys printed in this project's own test suite: public, so they protect nothing.
_PUBLISHED_KEYS = frozenset({"ik4sbLoHGyZfeMIL0uLB_v6wzTuk9hsQWyC_jvWMO7s="})


def _refuse_weak_production(
    named_secrets: Mapping[str, str], encryption_keys: Sequence[str], database_url: str
) -> None:
    """Refuse production with guessable or shared secrets, or the laptop's SQLite; name the
    setting."""
    for name, value in named_secrets.items():
        lowered = value.lower()
        if len(value) < MIN_SECRET_LENGTH or any(word in lowered for word in _PLACEHOLDERS):
            raise ConfigError(
                f"{name} looks like a placeholder or is shorter than {MIN_SECRET_LENGTH} "
                f"characters: {_MAKE_ONE}"
            )
        if len(set(value)) < MIN_DISTINCT_CHARACTERS:
            raise ConfigError(f"{name} is a pattern, not a random value: {_MAKE_ONE}")
    for key in encryption_keys:
        if key in _PUBLISHED_KEYS or len(set(key)) < MIN_DISTINCT_CHARACTERS:
            raise ConfigError(
                "GATEWAY_ENCRYPTION_KEYS holds a published or patterned key that protects "
                "nothing: make one with: survey-gateway keys new"
            )
    # One value in two places: the session key (rotated at will) would be tied to the
    # pseudonyms' key, and a token that travels in AT's callback URLs would give away the rest.
    seen: dict[str, str] = {}
    for name, value in [*named_secrets.items()] + [
        ("GATEWAY_ENCRYPTION_KEYS", key) for key in encryption_keys
    ]:
        if value in seen and seen[value] != name:
            raise ConfigError(
                f"{name} is the same as {seen[value]}: give each secret a value of its own"
            )
        seen.setdefault(value, name)
    if database_url.startswith("sqlite"):
        raise ConfigError("DATABASE_URL is SQLite: production needs PostgreSQL (postgresql://...)")


def _password_hash_profile(raw: str | None) -> PasswordHashProfile:
    """The profile named by GATEWAY_PASSWORD_HASH_PROFILE, RFC 9106's low-memory one if none."""
    if raw is None:
        return PasswordHashProfile.RFC_9106_LOW_MEMORY
    try:
        return PasswordHashProfile(raw.strip().lower())
    except ValueError as exc:
        raise ConfigError(
            f"GATEWAY_PASSWORD_HASH_PROFILE: {raw!r} is not a profile (one of: "
            + ", ".join(PasswordHashProfile)
            + ")"
        ) from exc


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _log_level(raw: str | None) -> str:
    """The level named by GATEWAY_LOG_LEVEL (any case), INFO if none."""
    level = (raw or "INFO").strip().upper()
    if level not in LOG_LEVELS:
        # Checked here, or logging, gunicorn and RQ would each fail on it in their own way.
        raise ConfigError(
            f"GATEWAY_LOG_LEVEL: {raw!r} is not a level (one of: {', '.join(LOG_LEVELS)})"
        )
    return level


LOG_FORMATS = ("text", "json")


def _log_format(raw: str | None) -> str:
    """The format named by GATEWAY_LOG_FORMAT (any case), text if none."""
    log_format = (raw or "text").strip().lower()
    if log_format not in LOG_FORMATS:
        raise ConfigError(
            f"GATEWAY_LOG_FORMAT: {raw!r} is not a format (one of: {', '.join(LOG_FORMATS)})"
        )
    return log_format


def _phone_region(raw: str | None) -> str:
    """The region named by GATEWAY_PHONE_REGION (ISO 3166 code, any case), ML if none."""
    region = (raw or "ML").strip().upper()
    if region not in SUPPORTED_REGIONS:
        # An unknown region reads no local number at all: every household would be refused.
        raise ConfigError(
            f"GATEWAY_PHONE_REGION: {raw!r} is not a region phone numbers can be read for: give "
            "the two-letter country code of where people dial from, e.g. ML for Mali (one of: "
            + ", ".join(sorted(SUPPORTED_REGIONS))
            + ")"
        )
    return region


def _networks(raw: str) -> tuple[str, ...]:
    """Comma-separated networks (``196.201.214.0/24,41.0.0.1``), each checked."""
    networks = tuple(part.strip() for part in raw.split(",") if part.strip())
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError as exc:
            raise ConfigError(
                f"GATEWAY_WEBHOOK_NETWORKS: {network!r} is not a network (e.g. 196.201.214.0/24)"
            ) from exc
    return networks


# What each generated secret is made with. A name added here is added to a file written by an
# older version, which keeps the secrets it has (its pseudonyms and encrypted numbers need them).
_GENERATED: dict[str, Callable[[], str]] = {
    "secret_key": lambda: secrets.token_urlsafe(32),
    "session_key": lambda: secrets.token_urlsafe(32),
    "encryption_key": lambda: Fernet.generate_key().decode(),
}


def _dev_secrets(var_dir: Path) -> dict[str, str]:
    """Load, or create once, the development secrets shared by every local process."""
    path = var_dir / "secrets.json"
    data = _read_secrets(path)
    if _GENERATED.keys() <= data.keys():
        return data
    var_dir.mkdir(parents=True, exist_ok=True)
    # Two processes starting together must agree on one set of secrets: one writes at a time,
    # and each reads the file again once it holds the lock.
    with open(var_dir / ".secrets.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = _read_secrets(path)
        missing = {name: make() for name, make in _GENERATED.items() if name not in data}
        if missing:
            data = {**data, **missing}
            tmp = var_dir / f".secrets.{os.getpid()}.tmp"
            with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
                json.dump(data, out)
            # A reader without the lock sees the old file or the new one, never half of one.
            os.replace(tmp, path)
    return data


def _read_secrets(path: Path) -> dict[str, str]:
    """The secrets in the file, or none when there is no file yet."""
    try:
        data: dict[str, str] = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    return data
