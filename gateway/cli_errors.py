"""The errors ``survey-gateway`` commands raise for a person to read, not as a traceback.

Apart from ``gateway.cli`` so the modules defining commands can raise them without importing
the command group that registers them.
"""

from __future__ import annotations

import click


class CommandError(click.ClickException):
    """A problem the user can fix; click prints ``Error: <message>`` and exits with status 1."""


class BadSetup(CommandError):
    """A bad setting, flow file or argument; exits with status 2, as a usage error does."""

    exit_code = 2
