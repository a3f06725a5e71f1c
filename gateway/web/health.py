"""``GET /healthz``: 200 when Redis and the database answer, 503 naming what failed; with the
version each node runs, to follow a rolling upgrade node by node."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from gateway.core.db import ping
from gateway.core.version import gateway_version
from gateway.web.runtime import runtime

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """Check each dependency; report every failure, not only the first."""
    rt = runtime()
    checks: dict[str, str] = {}
    try:
        rt.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:  # any failure means unhealthy; the type is enough to act on
        checks["redis"] = f"failed: {type(exc).__name__}"
    try:
        ping(rt.engine)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"failed: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return jsonify(
        status="ok" if healthy else "failing", checks=checks, version=gateway_version()
    ), 200 if healthy else 503
