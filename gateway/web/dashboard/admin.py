"""Dashboard, for admins: staff accounts, API tokens and the audit log.

Every change is a ``gateway.staff.services`` call, as the API and ``survey-gateway users`` /
``tokens`` make it: one transaction with its audit row. A form's fields are checked here first
so that every problem shows at once, next to its field; a refusal the service still makes (a
name taken meanwhile, the last admin) is said in the reader's language. A token's secret is on
the page that answers its creation and nowhere else: it is not stored, and pages are not cached.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from gateway.core.errors import DomainError
from gateway.staff.audit import audit_page, logged_actions
from gateway.staff.models import Role, User
from gateway.staff.services import (
    add_user,
    change_user_active,
    change_user_role,
    issue_token,
    reset_password,
    revoke_api_token,
)
from gateway.staff.tokens import TOKEN_NAME, find_token, list_tokens
from gateway.staff.users import find_user, list_users, password_problem, username_problem
from gateway.web.dashboard.base import language, require, signed_in, staff_blueprint, t
from gateway.web.dashboard.listing import Pager, filter_args, link_args, page_asked, read_period
from gateway.web.runtime import runtime

ROLES = [role.value for role in Role]

bp = staff_blueprint("dashboard_admin", __name__, "/dashboard/admin")


@bp.get("/")
@require(Role.ADMIN)
def index() -> ResponseReturnValue:
    """Administration starts with the accounts."""
    return redirect(url_for("dashboard_admin.users"))


# -- users ----------------------------------------------------------------------------------


@bp.get("/users")
@require(Role.ADMIN)
def users() -> ResponseReturnValue:
    """Every account, and the form to add one."""
    return _users_page(values={}, problems={})


@bp.post("/users")
@require(Role.ADMIN)
def create_user() -> ResponseReturnValue:
    """Add an account; every problem of the form at once, next to its field."""
    values = {name: request.form.get(name, "").strip()[:80] for name in ("username", "role")}
    password = request.form.get("password", "")[:300]
    problems = _account_problems(values["username"], password, values["role"])
    if not problems:
        try:
            user = add_user(
                runtime().sessions,
                signed_in().actor,
                username=values["username"],
                password=password,
                role=Role(values["role"]),
                hasher=runtime().password_hasher,
            )
        except DomainError as exc:
            problems["username"] = exc.in_language(language())
        else:
            flash(t("admin.user_created", username=user.username), "ok")
            return redirect(url_for("dashboard_admin.users"))
    return _users_page(values=values, problems=problems), 422


@bp.get("/users/<username>")
@require(Role.ADMIN)
def user(username: str) -> ResponseReturnValue:
    """One account: its role, whether it may sign in, a new password."""
    return _user_page(username, problems={})


@bp.post("/users/<username>/<any(disable, enable):change>")
@require(Role.ADMIN)
def set_active(username: str, change: str) -> ResponseReturnValue:
    """Stop an account signing in, or let it again."""
    active = change == "enable"
    return _change(
        username,
        lambda: change_user_active(runtime().sessions, signed_in().actor, username, active=active),
        f"admin.user_{change}d",
    )


@bp.post("/users/<username>/role")
@require(Role.ADMIN)
def set_role(username: str) -> ResponseReturnValue:
    """Give an account another role."""
    role = request.form.get("role", "")
    if role not in ROLES:
        return _user_page(username, problems={"role": t("admin.choose_role")}), 422
    return _change(
        username,
        lambda: change_user_role(runtime().sessions, signed_in().actor, username, role=Role(role)),
        "admin.role_changed",
    )


@bp.post("/users/<username>/password")
@require(Role.ADMIN)
def set_password(username: str) -> ResponseReturnValue:
    """Give an account a new password."""
    password = request.form.get("password", "")[:300]
    problem = password_problem(password)
    if problem is not None:
        return _user_page(username, problems={"password": problem.in_language(language())}), 422
    rt = runtime()
    return _change(
        username,
        lambda: reset_password(
            rt.sessions, signed_in().actor, username, password=password, hasher=rt.password_hasher
        ),
        "admin.password_reset",
    )


def _change(username: str, call: Callable[[], User], done_key: str) -> ResponseReturnValue:
    """Make one change to an account, then back to its page with what happened."""
    try:
        changed = call()
    except DomainError as exc:
        if exc.status == 404:
            abort(404)
        flash(t("admin.refused", problem=exc.in_language(language())), "error")
        return redirect(url_for("dashboard_admin.user", username=username[:64]))
    flash(t(done_key, username=changed.username, role=t(f"role.{changed.role}")), "ok")
    return redirect(url_for("dashboard_admin.user", username=changed.username))


def _account_problems(username: str, password: str, role: str) -> dict[str, str]:
    problems = {}
    for field, problem in (
        ("username", username_problem(username)),
        ("password", password_problem(password)),
    ):
        if problem is not None:
            problems[field] = problem.in_language(language())
    if role not in ROLES:
        problems["role"] = t("admin.choose_role")
    return problems


def _users_page(values: dict[str, str], problems: dict[str, str]) -> str:
    with runtime().sessions() as session:
        rows = list_users(session)
    return render_template(
        "dashboard/admin_users.html", rows=rows, roles=ROLES, values=values, problems=problems
    )


def _user_page(username: str, problems: dict[str, str]) -> str:
    with runtime().sessions() as session:
        try:
            found = find_user(session, username[:64])
        except DomainError:
            abort(404)
    page = render_template("dashboard/admin_user.html", user=found, roles=ROLES, problems=problems)
    return page


# -- tokens ---------------------------------------------------------------------------------


@bp.get("/tokens")
@require(Role.ADMIN)
def tokens() -> ResponseReturnValue:
    """Every API token, revoked ones included, and the form to make one."""
    return _tokens_page(values={}, problems={}, issued=None)


@bp.post("/tokens")
@require(Role.ADMIN)
def create_token() -> ResponseReturnValue:
    """Make a token and show its secret, this once."""
    values = {name: request.form.get(name, "").strip()[:80] for name in ("name", "role")}
    problems = {}
    if not TOKEN_NAME.fullmatch(" ".join(values["name"].split())):
        problems["name"] = t("staff_error.token_name_format")
    if values["role"] not in ROLES:
        problems["role"] = t("admin.choose_role")
    if not problems:
        try:
            issued = issue_token(
                runtime().sessions,
                signed_in().actor,
                name=values["name"],
                role=Role(values["role"]),
            )
        except DomainError as exc:
            problems["name"] = exc.in_language(language())
        else:
            return _tokens_page(values={}, problems={}, issued=issued)
    return _tokens_page(values=values, problems=problems, issued=None), 422


@bp.get("/tokens/<token_id>/revoke")
@require(Role.ADMIN)
def confirm_revoke(token_id: str) -> ResponseReturnValue:
    """Ask before revoking: scripts using the token stop working, for good."""
    with runtime().sessions() as session:
        try:
            token = find_token(session, token_id[:36])
        except DomainError:
            abort(404)
    return render_template("dashboard/admin_revoke.html", token=token)


@bp.post("/tokens/<token_id>/revoke")
@require(Role.ADMIN)
def revoke_token(token_id: str) -> ResponseReturnValue:
    """Revoke a token, then back to the list."""
    try:
        token = revoke_api_token(runtime().sessions, signed_in().actor, token_id[:36])
    except DomainError as exc:
        if exc.status == 404:
            abort(404)
        flash(t("admin.refused", problem=exc.in_language(language())), "error")
    else:
        flash(t("admin.token_revoked", name=token.name), "ok")
    return redirect(url_for("dashboard_admin.tokens"))


def _tokens_page(values: dict[str, str], problems: dict[str, str], issued: Any) -> str:
    with runtime().sessions() as session:
        rows = list_tokens(session)
    rows.reverse()  # newest first: the one just made is on top
    return render_template(
        "dashboard/admin_tokens.html",
        rows=rows,
        roles=ROLES,
        values=values,
        problems=problems,
        issued=issued,
    )


# -- audit log ------------------------------------------------------------------------------


@bp.get("/audit")
@require(Role.ADMIN)
def audit() -> ResponseReturnValue:
    """The audit log, newest first, a page at a time; by actor, action and period."""
    args = filter_args("actor", "action", "since", "until")
    problems: dict[str, str] = {}
    period = read_period(args, problems)
    rt = runtime()
    asked = Pager(page=page_asked(), total=0)
    with rt.sessions() as session:
        total, events = audit_page(
            session,
            actor=args["actor"] or None,
            action=args["action"] or None,
            since=period.since,
            before=period.before,
            offset=asked.offset,
            limit=asked.rows,
        )
        pager = Pager(page=asked.page, total=total)
        actions = logged_actions(session)
    page = render_template(
        "dashboard/admin_audit.html",
        events=events,
        actions=actions,
        args=args,
        links=link_args(args),
        problems=problems,
        pager=pager,
    )
    return page, 400 if problems else 200
