"""``survey-gateway outbox``: the latest outbound SMS, numbers masked, within 100 columns."""

from __future__ import annotations

import click

from gateway.cli.data import gateway_database
from gateway.cli.errors import BadSetup
from gateway.cli.terminal import escaped, wrapped
from gateway.core.settings import Settings

OUTBOX_LIMIT = 20
BODY_INDENT = "    "


@click.command()
@click.option("--to", "to", help="Only messages to this number (any usual way of writing it).")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=OUTBOX_LIMIT,
    show_default=True,
    help="How many messages to show.",
)
def outbox(to: str | None, limit: int) -> None:
    """List outbound SMS, newest first, with numbers masked, within 100 columns.

    Each message is a line of time, number, kind and status, then its body (line breaks and
    control characters shown as escapes such as \\n and \\x1b), its AT id and any error.
    """
    from gateway.core.crypto import pseudonymise
    from gateway.core.db import make_sessionmaker
    from gateway.messaging.outbox import outbox_rows
    from gateway.results.export import iso_utc
    from handlers.phone import normalise_phone

    settings = Settings.from_env()
    respondent: str | None = None
    if to is not None:
        e164 = normalise_phone(to, settings.phone_region)
        if e164 is None:
            # The input is not echoed back: it may be a real number with a typo in it.
            raise BadSetup(
                "--to is not a phone number we can read; write it like +22376123456 "
                f"(or as dialled in {settings.phone_region})"
            )
        respondent = pseudonymise(e164, settings.secret_key)
    with gateway_database(settings) as engine, make_sessionmaker(engine)() as session:
        rows = outbox_rows(session, respondent, limit)
    if not rows:
        click.echo("No outbound messages" + (" to this number." if to else " yet."))
        return
    # One block per message, within TERMINAL_WIDTH columns: a line of what, to whom and how
    # it went, then the body and any provider id or error wrapped under it. Bodies and errors
    # came from households and from AT: they are shown escaped, never sent to the terminal.
    blocks = []
    for row in rows:
        head = f"{iso_utc(row.created_at)}  {row.to_masked}  {escaped(row.kind)}  {row.status}"
        lines = wrapped(head)
        lines += wrapped(escaped(row.body), indent=BODY_INDENT)
        if row.provider_id:
            lines += wrapped(f"AT id: {escaped(row.provider_id)}", indent=BODY_INDENT)
        if row.error:
            lines += wrapped(f"error: {escaped(row.error)}", indent=BODY_INDENT)
        blocks.append("\n".join(lines))
    click.echo("\n\n".join(blocks))
