"""``survey-gateway enumerators``: a supervisor lists registrations and decides on them.

Each decision is ``gateway.enumerators.services.decide``, as the API and the dashboard make it:
one audited transaction, then the Redis marker that shows an approved enumerator the USSD
enumerator menu, and an approval's SMS handed to the workers. Phone numbers are shown masked,
never in full.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime

import click

from gateway.cli.errors import CommandGroup, migrated_runtime
from gateway.cli.terminal import printable
from gateway.core.clock import utc_now
from gateway.core.runtime import Runtime
from gateway.enumerators.activity import (
    EnumeratorActivity,
    enumerator_activity,
    period,
    report_flows,
)
from gateway.enumerators.models import Enumerator, EnumeratorStatus
from gateway.enumerators.registrations import list_enumerators
from gateway.enumerators.services import Decided, Decision, decide
from gateway.reports.models import Report
from gateway.results.export import iso_utc
from gateway.staff.audit import CLI_ACTOR

HEADER = ("ID", "STATUS", "CODE", "PHONE", "REGION", "SITE", "NAME", "REGISTERED (UTC)")
SHORT_ID = 8


@click.group("enumerators", cls=CommandGroup)
def enumerators() -> None:
    """Field staff who survey households: registrations, approval, revocation.

    Enumerators register by SMS (INSCRIPTION or REG). Approve them here; they receive their
    code by SMS and then see the enumerator menu when they dial the USSD code.
    """


@enumerators.command("list")
@click.option(
    "--status",
    type=click.Choice([status.value for status in EnumeratorStatus]),
    help="Only enumerators in this status.",
)
def list_command(status: str | None) -> None:
    """List enumerators, oldest registration first, with numbers masked."""
    with _runtime() as rt, rt.sessions() as session:
        rows = list_enumerators(session, EnumeratorStatus(status) if status else None)
    if not rows:
        click.echo(f"No {status} enumerators." if status else "No enumerators yet.")
        return
    click.echo(table(rows))


@enumerators.command("approve")
@click.argument("ident", metavar="ID|CODE")
def approve_command(ident: str) -> None:
    """Approve a registration (or an enumerator revoked before) and text them their code."""
    done = _decide(ident, "approve")
    enumerator = done.enumerator
    click.echo(table([enumerator]))
    if not done.sms_queued:
        click.echo(f"Already approved, code {enumerator.code}: nothing sent.")
    else:
        click.echo(
            f"Approved with code {enumerator.code}; the SMS to {enumerator.phone_masked} is queued."
        )


@enumerators.command("reject")
@click.argument("ident", metavar="ID")
def reject_command(ident: str) -> None:
    """Turn down a pending registration; the number stays a household."""
    done = _decide(ident, "reject")
    click.echo(table([done.enumerator]))
    click.echo("Rejected.")


@enumerators.command("revoke")
@click.argument("ident", metavar="ID|CODE")
def revoke_command(ident: str) -> None:
    """Withdraw an approval: from the next dial, the number is a household again."""
    done = _decide(ident, "revoke")
    click.echo(table([done.enumerator]))
    click.echo(f"Revoked: {done.enumerator.code} can no longer survey households.")


@enumerators.command("activity")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="First day (UTC), e.g. 2026-11-01 [a week before --until].",
)
@click.option("--until", type=click.DateTime(formats=["%Y-%m-%d"]), help="Last day (UTC) [today].")
def activity_command(since: datetime | None, until: datetime | None) -> None:
    """Reports sent (by report flow) and households surveyed, per enumerator and per day.

    Withdrawn reports are not counted; households count on the day their survey was
    completed. A period longer than 92 days is cut from its start.
    """
    first, last = period(
        since.date() if since else None, until.date() if until else None, utc_now().date()
    )
    with migrated_runtime(Report.__tablename__) as rt, rt.sessions() as session:
        rows = enumerator_activity(session, first, last)
    click.echo(f"Enumerator activity, {first.isoformat()} to {last.isoformat()} (UTC days).")
    if not rows:
        click.echo("No reports and no households surveyed in this period.")
        return
    click.echo(activity_table(rows))


def activity_table(rows: Sequence[EnumeratorActivity]) -> str:
    """One line per enumerator and day worked, then one total line per enumerator."""
    flows = report_flows(list(rows))
    header = ("CODE", "DAY", *(flow.upper() for flow in flows), "HOUSEHOLDS")
    cells: list[tuple[str, ...]] = [header]
    for each in rows:
        for day in each.days:
            counts = (str(day.reports.get(flow, 0)) for flow in flows)
            cells.append((each.code, day.day.isoformat(), *counts, str(day.households)))
        totals = (str(each.flow_total(flow)) for flow in flows)
        cells.append((each.code, "total", *totals, str(each.households)))
    return _columns(cells)


def _decide(ident: str, decision: Decision) -> Decided:
    """The decision, taken as the API's and the dashboard's are; a refusal as a one-line error."""
    with _runtime() as rt:
        return decide(rt, CLI_ACTOR, ident, decision)


def table(rows: Sequence[Enumerator]) -> str:
    """Enumerators as left-aligned columns; numbers masked, ids shortened to 8 characters."""
    cells: list[tuple[str, ...]] = [HEADER]
    cells += [
        (
            row.id[:SHORT_ID],
            str(row.status),
            row.code or "-",
            row.phone_masked,
            row.region,
            printable(row.site),
            printable(row.full_name),
            iso_utc(row.created_at),
        )
        for row in rows
    ]
    return _columns(cells)


def _columns(cells: list[tuple[str, ...]]) -> str:
    """Rows of cells as left-aligned columns, two spaces apart."""
    widths = [max(len(line[i]) for line in cells) for i in range(len(cells[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in cells
    )


def _runtime() -> AbstractContextManager[Runtime]:
    """The runtime, on a database that has the enumerators table."""
    return migrated_runtime(Enumerator.__tablename__)
