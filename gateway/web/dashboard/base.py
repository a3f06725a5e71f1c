"""The staff dashboard: sign-in, the helpers every staff page shares, and their registration.

Pages are rendered on the server from ``gateway/web/templates/dashboard`` and work with plain forms:
staff in field offices use old browsers on slow links. Each staff blueprint is made by
:func:`staff_blueprint`, which checks the CSRF token on every POST, answers errors with a page,
and keeps pages out of caches. Each view checks the role it needs with :func:`require`; the
signed-in user is read from the database on every request, so a deactivated account or a
changed role takes effect at once.

The features live in ``gateway.web.dashboard.campaigns``, ``.results`` and ``.enumerators``, the
phone simulator in ``gateway.web.simulator``; ``gateway.web.dashboard.register`` adds them all.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, ParamSpec, TypeVar

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from gateway.core.i18n import DEFAULT_LANGUAGE, LANGUAGES, translate
from gateway.staff.actors import Actor
from gateway.staff.models import Role, User
from gateway.staff.users import authenticate_user, normalise_username
from gateway.web import csrf
from gateway.web.runtime import runtime

log = logging.getLogger(__name__)
P = ParamSpec("P")
V = TypeVar("V", bound=Callable[..., Any])
LOGIN_ATTEMPTS = 10
LOGIN_WINDOW_S = 15 * 60
SESSION_USER = "uid"
# The user's password as it was at sign-in, as a stamp (see ``password_stamp``).
SESSION_STAMP = "pw"
SESSION_LANGUAGE = "lang"
SESSION_LIFETIME = timedelta(hours=12)
_UPLOAD_ATTR = "dashboard_upload_max_bytes"
UPLOAD_FORM_MEMORY = 256 * 1024
# Where a sign-in may send the browser back to: our own pages only, never another site.
_RETURN_PREFIXES = ("/dashboard", "/simulator")


@dataclass(frozen=True, slots=True)
class Staff:
    """The signed-in staff member, as read at the start of this request."""

    id: str
    username: str
    role: Role
    # The password it signed in with, as ``password_stamp`` says it.
    stamp: str = ""

    @property
    def actor(self) -> Actor:
        """This person as the audit log names them (``user:alice``)."""
        return Actor("user", self.username, self.role)

    def may(self, role: Role | str) -> bool:
        """True when this person's role includes ``role``."""
        return self.role.includes(Role(role))


def is_development() -> bool:
    """True on a development machine (``GATEWAY_ENV=development``, the default)."""
    return runtime().settings.env == "development"


def language() -> str:
    """The interface language chosen by a link and kept in the session; French by default."""
    chosen = session.get(SESSION_LANGUAGE)
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def t(key: str, **values: Any) -> str:
    """The interface text ``key`` in the session's language."""
    return translate(language(), key, **values)


def password_stamp(user: User) -> str:
    """A short digest of the user's password hash: it changes with the password, and says
    nothing of it (the hash is salted, and this is a one-way digest of the hash)."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def current_user() -> Staff | None:
    """The signed-in, still active staff member, or None."""
    if "staff" in g:
        staff: Staff | None = g.staff
        return staff
    staff = None
    user_id = session.get(SESSION_USER)
    if isinstance(user_id, str):
        with runtime().sessions() as db:
            user = db.get(User, user_id)
            # A session signed in before the password was reset is over: whoever had the old
            # password (the reason for a reset, often) is signed out everywhere.
            if (
                user is not None
                and user.active
                and session.get(SESSION_STAMP) == password_stamp(user)
            ):
                staff = Staff(user.id, user.username, Role(user.role), password_stamp(user))
    g.staff = staff
    return staff


def require(
    role: Role,
) -> Callable[[Callable[P, ResponseReturnValue]], Callable[P, ResponseReturnValue]]:
    """Let only staff with ``role`` (or above) in; anyone signed out goes to the sign-in page."""

    def decorate(view: Callable[P, ResponseReturnValue]) -> Callable[P, ResponseReturnValue]:
        @functools.wraps(view)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> ResponseReturnValue:
            staff = current_user()
            if staff is None:
                return redirect(url_for("dashboard.login", next=request.full_path.rstrip("?")))
            if not staff.may(role):
                abort(403)
            return view(*args, **kwargs)

        return guarded

    return decorate


def signed_in() -> Staff:
    """The staff member of a view behind :func:`require` (never None there)."""
    staff = current_user()
    if staff is None:  # pragma: no cover - require() has sent them to sign in
        abort(403)
    return staff


def allow_upload(max_bytes: int) -> Callable[[V], V]:
    """Let a view take a request body up to ``max_bytes`` (the app allows 16 KB otherwise)."""

    def mark(view: V) -> V:
        setattr(view, _UPLOAD_ATTR, max_bytes)
        return view

    return mark


def _request_limits() -> None:
    # Before the CSRF check reads the form: the body is parsed once, under the view's limit.
    view = current_app.view_functions.get(request.endpoint or "")
    limit = getattr(view, _UPLOAD_ATTR, None)
    if isinstance(limit, int):
        request.max_content_length = limit
        # Werkzeug's multipart parser reads 64 KiB at a time and holds each read to this limit
        # (16 KB in the app): an upload needs room for a read, not only for its small fields.
        request.max_form_memory_size = UPLOAD_FORM_MEMORY


def staff_blueprint(name: str, import_name: str, url_prefix: str) -> Blueprint:
    """A blueprint of staff pages: CSRF-checked POSTs, error pages, no caching."""
    bp = Blueprint(name, import_name, url_prefix=url_prefix)
    bp.before_request(_request_limits)
    csrf.protect(bp)
    bp.register_error_handler(HTTPException, _error_page)
    bp.after_request(_page_headers)
    return bp


def _error_page(exc: HTTPException) -> ResponseReturnValue:
    """An error as a page in the staff's language, not the JSON the AT callbacks get."""
    status = exc.code or 500
    if status == 400 and exc.description == "csrf":
        message = t("error.csrf")
    elif status == 413:
        message = t("error.too_large")
    else:
        message = t(f"error.{status}") if status in (403, 404) else t("error.other")
    return render_template("dashboard/error.html", status=status, message=message), status


def _page_headers(response: Response) -> Response:
    # Pages show who answered what on shared office computers: nothing is kept in caches.
    # The other security headers are set for every response (gateway/web/security_headers.py).
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _safe_return(target: str | None) -> str | None:
    """``target`` if it is one of our own pages, else None."""
    if not target or not target.startswith(_RETURN_PREFIXES) or "\\" in target:
        return None
    return target


def sign_in(username: str, password: str) -> Staff | Literal["refused", "throttled"]:
    """Check the credentials (``authenticate_user`` audits a sign-in); say why when refused.

    After LOGIN_ATTEMPTS failures for one username, each less than LOGIN_WINDOW_S after the
    one before, its sign-ins are refused unchecked until LOGIN_WINDOW_S have passed since the
    last failure: passwords cannot be guessed at the speed of HTTP.
    """
    rt = runtime()
    key = f"sg:login:fail:{normalise_username(username)[:64]}"
    failures = rt.redis.get(key)
    if failures is not None and int(failures) >= LOGIN_ATTEMPTS:
        return "throttled"
    with rt.sessions.begin() as db:
        user = authenticate_user(db, username, password, hasher=rt.password_hasher)
        staff = (
            None
            if user is None
            else Staff(user.id, user.username, Role(user.role), password_stamp(user))
        )
    if staff is None:
        with rt.redis.pipeline() as pipe:
            pipe.incr(key)
            pipe.expire(key, LOGIN_WINDOW_S)
            pipe.execute()
        log.info("dashboard sign-in refused for username %r", username[:64])
        return "refused"
    rt.redis.delete(key)
    return staff


bp = staff_blueprint("dashboard", __name__, "/dashboard")


@bp.get("/")
@require(Role.VIEWER)
def home() -> ResponseReturnValue:
    """The campaigns list is where staff start."""
    return redirect(url_for("dashboard_campaigns.index"))


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """The sign-in form, and signing in."""
    target = _safe_return(request.values.get("next"))
    if request.method == "GET":
        if current_user() is not None:
            return redirect(target or url_for("dashboard.home"))
        return render_template("dashboard/login.html", next=target, error=None, username="")
    username = request.form.get("username", "").strip()[:64]
    staff = sign_in(username, request.form.get("password", "")[:256])
    if not isinstance(staff, Staff):
        error = t("login.throttled" if staff == "throttled" else "login.failed")
        page = render_template("dashboard/login.html", next=target, error=error, username=username)
        return page, 200
    chosen = session.get(SESSION_LANGUAGE)
    # A fresh session at sign-in: nothing from before (a token seen by others) carries over.
    session.clear()
    if chosen in LANGUAGES:
        session[SESSION_LANGUAGE] = chosen
    session[SESSION_USER] = staff.id
    session[SESSION_STAMP] = staff.stamp
    session.permanent = True
    csrf.renew()
    return redirect(target or url_for("dashboard.home"))


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """Sign out: the session is emptied, the language kept."""
    chosen = session.get(SESSION_LANGUAGE)
    session.clear()
    if chosen in LANGUAGES:
        session[SESSION_LANGUAGE] = chosen
    return redirect(url_for("dashboard.login"))


@bp.get("/language/<code>")
def set_language(code: str) -> ResponseReturnValue:
    """Switch the interface language, then go back to the page the link was on."""
    if code not in LANGUAGES:
        abort(404)
    session[SESSION_LANGUAGE] = code
    return redirect(_safe_return(request.args.get("next")) or url_for("dashboard.home"))


def template_globals() -> dict[str, Any]:
    staff = current_user() if request else None
    return {
        "t": t,
        "lang": language(),
        "languages": LANGUAGES,
        "staff": staff,
        "is_development": is_development(),
    }
