"""HTTP from this machine to a gateway, usually the web server the supervisor started here."""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

import requests

from gateway.core.settings import Settings


def local_base_url(settings: Settings) -> str:
    """The URL to reach the web server from this machine."""
    host = settings.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


# Where ``run`` notes the address of the web server it started, for the commands of this
# machine (``simulate``) to find it whatever PORT it was started with.
RUNNING_URL_FILE = "web-server.url"


def note_running_url(settings: Settings) -> None:
    """Note, in the var folder, the address of the web server ``run`` has just started."""
    path = settings.var_dir / RUNNING_URL_FILE
    path.write_text(local_base_url(settings) + "\n", encoding="ascii")


def forget_running_url(settings: Settings) -> None:
    """Remove the note once ``run`` has stopped its web server (if the note is its own)."""
    if _noted_url(settings) == local_base_url(settings):
        (settings.var_dir / RUNNING_URL_FILE).unlink(missing_ok=True)


def gateway_url(settings: Settings, environ: Mapping[str, str] | None = None) -> str:
    """The gateway of this machine: on PORT when it is set, else where ``run`` noted it was
    started (another terminal, another PORT), else on the default port."""
    env = os.environ if environ is None else environ
    noted = None if env.get("PORT") else _noted_url(settings)
    return noted or local_base_url(settings)


def _noted_url(settings: Settings) -> str | None:
    try:
        noted = (settings.var_dir / RUNNING_URL_FILE).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return noted if noted.startswith("http://") and noted.isprintable() else None


def http_session(url: str) -> requests.Session:
    """A requests session; for this machine, one that ignores proxy settings."""
    session = requests.Session()
    if urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1"):
        # An HTTP_PROXY from the environment cannot reach this machine's loopback.
        session.trust_env = False
    return session
