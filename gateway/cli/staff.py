"""``survey-gateway users`` and ``survey-gateway tokens``: staff accounts and API tokens.

For the person who runs the server: the first admin is made here, and tokens for scripts.
Every change is a ``gateway.staff.services`` call, as the API makes it: one transaction with
its audit event (actor ``cli``). A token's secret is printed once, alone on standard output (so
it can be piped into a secret store); it is not stored anywhere, only its hash.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

import click
from sqlalchemy import inspect
from sqlalchemy.orm import Session, sessionmaker

from gateway.cli.errors import BadSetup, CommandGroup
from gateway.cli.terminal import printable, text_table
from gateway.core.crypto import password_hasher
from gateway.core.db import make_engine, make_sessionmaker
from gateway.core.settings import Settings
from gateway.results.export import iso_utc
from gateway.staff.audit import CLI_ACTOR
from gateway.staff.models import ApiToken, Role, User
from gateway.staff.services import (
    add_user,
    change_user_active,
    change_user_role,
    issue_token,
    reset_password,
    revoke_api_token,
)
from gateway.staff.tokens import list_tokens
from gateway.staff.users import check_password_rules, list_users

ROLE_CHOICE = click.Choice([role.value for role in Role])
SHORT_ID = 8
Row = TypeVar("Row", User, ApiToken)


@click.group("users", cls=CommandGroup)
def users() -> None:
    """Dashboard users: who may sign in, and with which role (viewer, manager, admin)."""


@users.command("create")
@click.argument("username")
@click.option("--role", type=ROLE_CHOICE, required=True, help="What the user may do.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input instead of prompting.",
)
def users_create(username: str, role: str, password_stdin: bool) -> None:
    """Add a user who signs in to the dashboard with USERNAME and a password."""
    password = _read_password(password_stdin)
    hasher = password_hasher(Settings.from_env().password_hash_profile)
    check_password_rules(password)
    with _sessions(User) as sessions:
        user = add_user(
            sessions,
            CLI_ACTOR,
            username=username,
            password=password,
            role=Role(role),
            hasher=hasher,
        )
    click.echo(f"User {user.username} created, role {user.role}.")


@users.command("disable")
@click.argument("username")
def users_disable(username: str) -> None:
    """Stop USERNAME signing in (from their next page on); the last admin cannot be disabled."""
    _change_user(lambda s: change_user_active(s, CLI_ACTOR, username, active=False), "disabled")


@users.command("enable")
@click.argument("username")
def users_enable(username: str) -> None:
    """Let a disabled USERNAME sign in again."""
    _change_user(lambda s: change_user_active(s, CLI_ACTOR, username, active=True), "enabled")


@users.command("role")
@click.argument("username")
@click.option("--role", type=ROLE_CHOICE, required=True, help="What the user may do from now.")
def users_role(username: str, role: str) -> None:
    """Give USERNAME another role; the last admin keeps theirs."""
    _change_user(lambda s: change_user_role(s, CLI_ACTOR, username, role=Role(role)), "now {role}")


@users.command("reset-password")
@click.argument("username")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the new password from the first line of standard input instead of prompting.",
)
def users_reset_password(username: str, password_stdin: bool) -> None:
    """Give USERNAME a new password (one who forgot theirs)."""
    password = _read_password(password_stdin)
    hasher = password_hasher(Settings.from_env().password_hash_profile)
    check_password_rules(password)
    with _sessions(User) as sessions:
        user = reset_password(sessions, CLI_ACTOR, username, password=password, hasher=hasher)
    click.echo(f"User {user.username} has a new password.")


def _change_user(change: Callable[[sessionmaker[Session]], User], outcome: str) -> None:
    """Make one change to a user and say what they are now (``outcome``, with ``{role}``)."""
    with _sessions(User) as sessions:
        user = change(sessions)
    click.echo(f"User {user.username} is {outcome.format(role=user.role)}.")


def _read_password(from_stdin: bool) -> str:
    """A password from standard input's first line, or typed twice at a prompt."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = click.prompt(
        "Password", hide_input=True, confirmation_prompt="Repeat the password"
    )
    return password


@users.command("list")
def users_list() -> None:
    """List users by username."""

    def cells(user: User) -> tuple[str, ...]:
        return (
            user.username,
            str(user.role),
            "yes" if user.active else "no",
            iso_utc(user.created_at),
            iso_utc(user.last_login_at) or "-",
        )

    header = ("USERNAME", "ROLE", "ACTIVE", "CREATED (UTC)", "LAST LOGIN (UTC)")
    empty = "No users yet: add one with `survey-gateway users create NAME --role admin`."
    _print_table(User, list_users, header, cells, empty)


@click.group("tokens", cls=CommandGroup)
def tokens() -> None:
    """API tokens for scripts: sent as `Authorization: Bearer <token>` to /api/v1."""


@tokens.command("create")
@click.option("--name", required=True, help="What the token is for, e.g. 'nightly-export'.")
@click.option("--role", type=ROLE_CHOICE, required=True, help="What the token may do.")
def tokens_create(name: str, role: str) -> None:
    """Make a token and print its secret, this once."""
    with _sessions(ApiToken) as sessions:
        issued = issue_token(sessions, CLI_ACTOR, name=name, role=Role(role))
    token = issued.token
    click.echo(
        f"Token '{token.name}' created (id {token.id[:SHORT_ID]}, role {token.role}).\n"
        "Its secret is on the next line. It is shown only now and is not stored: "
        "copy it to a safe place.",
        err=True,
    )
    click.echo(issued.secret)


@tokens.command("list")
def tokens_list() -> None:
    """List tokens, revoked ones included (never their secrets)."""

    def cells(token: ApiToken) -> tuple[str, ...]:
        revoked = token.revoked_at
        return (
            token.id[:SHORT_ID],
            printable(token.name),
            str(token.role),
            "active" if revoked is None else f"revoked {iso_utc(revoked)}",
            iso_utc(token.created_at),
            iso_utc(token.last_used_at) or "-",
            token.created_by or "-",
        )

    header = ("ID", "NAME", "ROLE", "STATUS", "CREATED (UTC)", "LAST USED (UTC)", "CREATED BY")
    _print_table(ApiToken, list_tokens, header, cells, "No tokens yet.")


@tokens.command("revoke")
@click.argument("ident", metavar="ID")
def tokens_revoke(ident: str) -> None:
    """Revoke a token (by its id, or the 8 characters `tokens list` shows), for good."""
    with _sessions(ApiToken) as sessions:
        token = revoke_api_token(sessions, CLI_ACTOR, ident)
    click.echo(f"Token '{token.name}' ({token.id[:SHORT_ID]}) is revoked.")


def _print_table(
    model: type[Row],
    rows_of: Callable[[Session], Sequence[Row]],
    header: tuple[str, ...],
    cells: Callable[[Row], tuple[str, ...]],
    empty: str,
) -> None:
    """Print every row of a listing as a table, or ``empty`` when there is none."""
    with _sessions(model) as sessions, sessions() as session:
        rows: Sequence[Row] = rows_of(session)
    if not rows:
        click.echo(empty)
        return
    click.echo(text_table([header, *(cells(row) for row in rows)]))


@contextmanager
def _sessions(model: type[User] | type[ApiToken]) -> Iterator[sessionmaker[Session]]:
    """Sessions on the gateway's database, refusing one that was never migrated this far."""
    settings = Settings.from_env()
    engine = make_engine(settings.database_url)
    try:
        if not inspect(engine).has_table(model.__tablename__):
            # Commands do not migrate: that is for the processes that start the gateway.
            raise BadSetup(
                f"the database has no {model.__tablename__} table yet: start "
                "`survey-gateway run` (or `survey-gateway worker`) once to migrate it"
            )
        yield make_sessionmaker(engine)
    finally:
        engine.dispose()
