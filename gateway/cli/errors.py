"""The errors ``survey-gateway`` commands raise for a person to read, not as a traceback.

Apart from ``gateway.cli`` so the modules defining commands can raise them without importing
the command group that registers them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from gateway.core.errors import DomainError

if TYPE_CHECKING:
    from gateway.core.runtime import Runtime


class CommandError(click.ClickException):
    """A problem the user can fix; click prints ``Error: <message>`` and exits with status 1."""


class BadSetup(CommandError):
    """A bad setting, flow file or argument; exits with status 2, as a usage error does."""

    exit_code = 2


class CommandGroup(click.Group):
    """A command group whose commands' refusals (any ``DomainError``) print as one line.

    A service refusing a request (unknown id, a state that forbids the change, a name already
    taken) says why in English; the command exits with status 1 and no traceback.
    """

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand; a refusal becomes a ``CommandError``."""
        try:
            return super().invoke(ctx)
        except DomainError as exc:
            raise CommandError(str(exc)) from None


@contextmanager
def migrated_runtime(table: str) -> Iterator[Runtime]:
    """The runtime from the environment, on a database that has ``table``; closed afterwards.

    Reading and deciding commands do not migrate (that is for the processes that write): on a
    database never set up they say how to set it up.
    """
    from sqlalchemy import inspect

    from gateway.core.runtime import Runtime
    from gateway.core.settings import Settings

    rt = Runtime.build(Settings.from_env())
    try:
        if not inspect(rt.engine).has_table(table):
            raise BadSetup(
                f"the database has no {table} table yet: start `survey-gateway run` "
                "(or `survey-gateway worker`) once to migrate it"
            )
        yield rt
    finally:
        rt.engine.dispose()
        rt.redis.close()
