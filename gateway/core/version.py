"""The gateway's version: written once, in pyproject.toml, and read here from the installed
package's metadata, so the command line, /healthz and the changelog cannot disagree."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "survey-gateway"


def gateway_version() -> str:
    """The installed version (semantic: MAJOR.MINOR.PATCH), or "unknown" when the code runs
    from a folder that was never installed (pip install -e . fixes that)."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown"
