"""The staff API under ``/api/v1``: flask-smorest, its OpenAPI document, and its JSON errors.

A feature adds endpoints with an :class:`ApiBlueprint` (a ``flask_smorest.Blueprint`` that
mypy can see through) whose routes are written relative to ``/api/v1``, guards each view with
``gateway.web.auth.require_role`` (outermost, so authentication comes before validation), and
passes
the blueprint to :func:`register_api` in ``gateway.web.app.create_app``::

    from flask.views import MethodView

    from gateway.web.api.base import ApiBlueprint, read_session, write_session
    from gateway.staff.models import Role
    from gateway.web.auth import current_actor, require_role

    blp = ApiBlueprint("campaigns", __name__, description="SMS campaigns")

    @blp.route("/campaigns")
    class Campaigns(MethodView):
        @require_role(Role.VIEWER)
        @blp.response(200, CampaignSchema(many=True))
        def get(self): ...

The document is served at ``GET /api/v1/openapi.json`` (no UI: a UI would load scripts from a
CDN). Every error under ``/api/`` is JSON ``{"error", "message"}`` (plus ``errors``, field by
field, for a request that failed validation): ``gateway.web.app`` sends errors here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import marshmallow as ma
from flask import Flask, Response, jsonify, request
from flask_smorest import Api, Blueprint
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from gateway.core.runtime import Runtime
from gateway.staff.models import Role
from gateway.web.auth import BEARER_SCHEME, require_role
from gateway.web.runtime import runtime

__all__ = [
    "API_PREFIX",
    "ApiBlueprint",
    "ErrorSchema",
    "api_error_response",
    "is_api_request",
    "read_session",
    "register_api",
    "runtime",
    "write_session",
]

API_PREFIX = "/api/v1"
API_TITLE = "survey-gateway staff API"
OPENAPI_VERSION = "3.0.3"
# Headers of an HTTP error worth keeping in the JSON answer (Allow on 405, for instance).
_KEPT_HEADERS = ("Allow", "WWW-Authenticate", "Retry-After")

F = TypeVar("F", bound=Callable[..., Any])


class ErrorSchema(ma.Schema):
    """What every API error answers with (documentation only: the handler builds the body)."""

    error = ma.fields.String(
        required=True, metadata={"description": "The HTTP status name, e.g. 'Not Found'"}
    )
    message = ma.fields.String(required=True, metadata={"description": "What to do about it"})
    errors = ma.fields.Dict(
        metadata={"description": "Per location and field, what is wrong (validation only)"}
    )


class GatewayApi(Api):  # type: ignore[misc]  # flask-smorest ships no type hints
    """flask-smorest's Api, leaving error responses to the app's own handler."""

    # Documented as components/schemas/Error, which auth.require_role's 401/403 refer to.
    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:
        # flask-smorest would answer every HTTP error of the app, /ussd included, with its own
        # JSON; gateway.web.app dispatches by path and calls api_error_response for /api/.
        pass


class ApiBlueprint(Blueprint):  # type: ignore[misc]  # flask-smorest ships no type hints
    """A flask-smorest Blueprint whose decorators keep the views' types (for mypy).

    Use it as flask-smorest's: ``route``, ``arguments``, ``response``, ``alt_response``,
    ``paginate`` and ``doc`` take the same arguments.
    """

    def route(self, rule: str, **options: Any) -> Callable[[F], F]:
        """Register a view function or MethodView at ``rule`` (relative to ``/api/v1``)."""
        decorator: Callable[[F], F] = super().route(rule, **options)
        return decorator

    def arguments(self, schema: Any, **options: Any) -> Callable[[F], F]:
        """Validate the request (JSON body by default) and pass it to the view."""
        decorator: Callable[[F], F] = super().arguments(schema, **options)
        return decorator

    def response(self, status_code: int, schema: Any = None, **options: Any) -> Callable[[F], F]:
        """Serialise what the view returns with ``schema``, as ``status_code``."""
        decorator: Callable[[F], F] = super().response(status_code, schema, **options)
        return decorator

    def alt_response(self, status_code: int, **options: Any) -> Callable[[F], F]:
        """Document another response of the view (an error it aborts with, say)."""
        decorator: Callable[[F], F] = super().alt_response(status_code, **options)
        return decorator

    def paginate(self, pager: Any = None, **options: Any) -> Callable[[F], F]:
        """Add ``page``/``page_size`` query arguments and the ``X-Pagination`` header."""
        decorator: Callable[[F], F] = super().paginate(pager, **options)
        return decorator

    @staticmethod
    def doc(**kwargs: Any) -> Callable[[F], F]:
        """Add to the view's OpenAPI operation (summary, description, ...)."""
        decorator: Callable[[F], F] = Blueprint.doc(**kwargs)
        return decorator

    def action_routes(
        self,
        rule: str,
        role: Role,
        schema: Any,
        actions: Mapping[str, str],
        act: Callable[[str, str], Any],
    ) -> None:
        """One ``POST`` operation per action on a resource, all alike but for their docs.

        ``rule`` has one path argument and ends in the action, as
        ``/campaigns/<campaign_id>/{action}``; the endpoint is the resource and the action
        (``campaigns_start``), documented by the action's docstring in ``actions``. The view
        answers ``act(path argument, action)`` with ``schema``, to callers of ``role`` or above.
        """
        resource = rule.strip("/").split("/")[0]
        for action, docstring in actions.items():

            def view(action: str = action, **path: str) -> Any:
                (ident,) = path.values()
                return act(ident, action)

            view.__name__ = view.__qualname__ = f"{resource}_{action}"
            view.__doc__ = docstring
            documented = require_role(role)(self.response(200, schema)(view))
            self.route(rule.format(action=action), methods=["POST"])(documented)


def register_api(app: Flask, *blueprints: Blueprint) -> Api:
    """Mount the API on the app with these feature blueprints; returns the ``Api``."""
    app.config.update(
        API_TITLE=API_TITLE,
        API_VERSION="1",
        OPENAPI_VERSION=OPENAPI_VERSION,
        OPENAPI_URL_PREFIX=API_PREFIX,
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "info": {
                "description": (
                    "Staff API of survey-gateway. Authenticate with an API token "
                    "(`survey-gateway tokens create`) as `Authorization: Bearer <token>`. "
                    "Roles: viewer < manager < admin; each includes the ones before it."
                )
            }
        },
    )
    api = GatewayApi(app)
    api.spec.components.security_scheme(
        BEARER_SCHEME,
        {"type": "http", "scheme": "bearer", "description": "An API token from an admin"},
    )
    for blueprint in blueprints:
        api.register_blueprint(blueprint, url_prefix=API_PREFIX)
    return api


def is_api_request() -> bool:
    """True when the current request is for the API, whether or not a route matched; /metrics
    too, which takes the API's tokens and answers their refusals alike."""
    return request.path in ("/api", "/metrics") or request.path.startswith("/api/")


def api_error_response(exc: HTTPException) -> Response:
    """The JSON answer to an HTTP error under ``/api/``: ``{"error", "message"[, "errors"]}``."""
    status = exc.code or 400
    data: Mapping[str, Any] = getattr(exc, "data", None) or {}
    # flask_smorest.abort(..., message=...) and webargs' validation errors (as "messages").
    errors = data.get("errors", data.get("messages"))
    message = data.get("message")
    if message is None and errors:
        message = _describe(errors)
    if message is None and request.url_rule is None and status in (404, 405):
        message = _routing_message(exc)
    body: dict[str, Any] = {"error": exc.name, "message": message or exc.description}
    if errors:
        body["errors"] = _string_keys(errors)
    response = jsonify(body)
    response.status_code = status
    for name, value in exc.get_headers():
        if name in _KEPT_HEADERS:
            response.headers[name] = value
    for name, value in (data.get("headers") or {}).items():
        response.headers[name] = value
    return response


def _routing_message(exc: HTTPException) -> str:
    """Say what to do when no route matched: where the routes are, which methods are allowed."""
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        allowed = ", ".join(m for m in exc.valid_methods if m not in ("HEAD", "OPTIONS"))
        return f"{request.method} is not allowed on {request.path}; allowed: {allowed}"
    return f"there is no {request.path}: the API's routes are in {API_PREFIX}/openapi.json"


def _describe(errors: Any) -> str:
    """Validation errors as one line naming each field: ``json.role: Must be one of: ...``."""
    parts = [f"{path}: {text}" if path else text for path, text in _flatten(errors, "")]
    return "The request is not valid. " + "; ".join(parts)


def _string_keys(errors: Any) -> Any:
    """The errors with every key a string: a form field with no readable name comes back as
    ``None`` from the parser, and JSON (with sorted keys) cannot hold it."""
    if isinstance(errors, Mapping):
        return {str(key): _string_keys(value) for key, value in errors.items()}
    return errors


def _flatten(errors: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(errors, Mapping):
        for key, value in errors.items():
            yield from _flatten(value, f"{path}.{key}" if path else str(key))
    elif isinstance(errors, list | tuple):
        if all(isinstance(item, str) for item in errors):
            yield path, " ".join(errors)
        else:
            for item in errors:
                yield from _flatten(item, path)
    else:
        yield path, str(errors)


@contextmanager
def read_session() -> Iterator[Session]:
    """A database session for reading in a view; nothing it does is committed."""
    rt: Runtime = runtime()
    with rt.sessions() as session:
        yield session


@contextmanager
def write_session() -> Iterator[Session]:
    """A database transaction for a view: committed at the end, rolled back on any error."""
    rt: Runtime = runtime()
    with rt.sessions.begin() as session:
        yield session
