"""The bare endpoint ``make bench`` compares the gateway's USSD step with.

A Flask app that reads Africa's Talking's USSD form and answers ``CON ...`` (``END ...`` once
the survey's answers are all typed), served by gunicorn with the options
``survey-gateway serve`` uses (``gateway.processes.servers``): same worker count, the sync
worker class, no access log. What the gateway spends beyond this is its own work.

    python -m tests.bench_bare --port 8001 --workers 2
"""

from __future__ import annotations

import argparse
from typing import Any

from flask import Flask, Response, request

# How many answers the bench's survey has: the screen after the last one is END.
SURVEY_ANSWERS = 8


def create_app() -> Flask:
    """The bare USSD app."""
    app = Flask(__name__)

    @app.post("/ussd")
    def ussd() -> Response:
        form = request.form
        # Read every field AT sends, as any USSD endpoint must.
        session_id = form.get("sessionId", "")
        phone = form.get("phoneNumber", "")
        form.get("serviceCode", "")
        form.get("networkCode", "")
        text = form.get("text", "")
        typed = len(text.split("*")) if text else 0
        if not session_id or not phone:
            return Response("END missing fields", status=400, mimetype="text/plain")
        screen = "END Merci" if typed >= SURVEY_ANSWERS else f"CON Question {typed + 1}"
        return Response(screen, mimetype="text/plain")

    @app.get("/healthz")
    def healthz() -> Response:
        return Response("ok", mimetype="text/plain")

    return app


def serve(port: int, workers: int) -> None:
    """Run the app under gunicorn with the gateway's options."""
    from gunicorn.app.base import BaseApplication

    options: dict[str, Any] = {
        "bind": f"127.0.0.1:{port}",
        "workers": workers,
        "worker_class": "sync",
        "timeout": 30,
        "preload_app": False,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "proc_name": "survey-gateway-bench-bare",
    }

    class BareApplication(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)
            if "control_socket_disable" in self.cfg.settings:
                self.cfg.set("control_socket_disable", True)

        def load(self) -> Any:
            return create_app()

    BareApplication().run()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    serve(args.port, args.workers)


if __name__ == "__main__":
    main()
