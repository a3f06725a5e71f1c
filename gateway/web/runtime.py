"""The runtime a web request works with: the one ``create_app`` built for its app."""

from __future__ import annotations

from flask import Flask, current_app

from gateway.core.runtime import Runtime

_EXTENSION = "gateway"


def install_runtime(app: Flask, rt: Runtime) -> None:
    """Make ``rt`` the runtime of ``app`` (done once, by ``create_app``)."""
    app.extensions[_EXTENSION] = rt


def runtime_of(app: Flask) -> Runtime:
    """The runtime ``create_app`` built for ``app``."""
    rt: Runtime = app.extensions[_EXTENSION]
    return rt


def runtime() -> Runtime:
    """The runtime of the app handling the current request."""
    return runtime_of(current_app)
