"""A request id on every web request: in each log line it causes, and in the response's
``X-Request-Id`` header, so a caller's report or a proxy's log leads to the gateway's lines.

The proxy's id (nginx: ``proxy_set_header X-Request-Id $request_id;``) is kept when it is a
short run of letters, digits, ``.``, ``_`` or ``-``; anything else is replaced by a new one.
"""

from __future__ import annotations

from flask import Flask, Response, g, request

from gateway.core.log_ids import bind_request_id, request_id_from

HEADER = "X-Request-Id"


def install_request_ids(app: Flask) -> None:
    """Give every request of ``app`` an id, logged and returned."""

    @app.before_request
    def bind() -> None:
        g.request_id = request_id_from(request.headers.get(HEADER))
        bind_request_id(g.request_id)

    @app.after_request
    def answer(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id is not None:
            response.headers[HEADER] = request_id
        return response

    @app.teardown_request
    def unbind(_exc: BaseException | None) -> None:
        # The thread serves the next request: its lines must not carry this one's id.
        bind_request_id(None)
