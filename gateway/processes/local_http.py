"""HTTP from this machine to a gateway, usually the web server the supervisor started here."""

from __future__ import annotations

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


def http_session(url: str) -> requests.Session:
    """A requests session; for this machine, one that ignores proxy settings."""
    session = requests.Session()
    if urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1"):
        # An HTTP_PROXY from the environment cannot reach this machine's loopback.
        session.trust_env = False
    return session
