"""``flows import FORM.xlsx``, ``flows publish FLOW`` and ``flows export FLOW``: XLSForms in and out
of the flows folder, a draft first."""

from __future__ import annotations

from pathlib import Path

import click

from flows import load_flows
from gateway.cli.errors import BadSetup, CommandError
from gateway.cli.terminal import plural
from gateway.core.settings import Settings
from gateway.staff.audit import CLI_ACTOR


@click.command("import")
@click.argument("form", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def flows_import(form: Path) -> None:
    """Import an XLSForm (KoBoToolbox, ODK) as a draft flow in GATEWAY_FLOWS_DIR.

    Try the draft in the dashboard's phone simulator, then `flows publish FLOW_ID`: new runs
    start on it then, without a restart; runs under way keep the version they started with.
    """
    # pyxform takes a while to load: every other command starts without it.
    from gateway.core.runtime import Runtime
    from gateway.surveys.services import import_flow
    from gateway.surveys.xlsform_rules import XlsFormRefused

    rt = Runtime.build(Settings.from_env())
    try:
        report = import_flow(rt, CLI_ACTOR, form.read_bytes(), form.name)
    except XlsFormRefused as exc:
        for problem in exc.problems:
            click.echo(f"{form.name}: {problem}")
        raise CommandError(
            f"{plural(len(exc.problems), 'problem')}: nothing was imported"
        ) from None
    for note in report.notes:
        click.echo(f"note: {note}")
    for line in report.too_long:
        click.echo(f"warning: {line}")
    flow = report.flow
    if report.unchanged:
        click.echo(f"{flow.id} version {flow.version} is already published, unchanged.")
        return
    click.echo(
        f"Imported {flow.id} version {flow.version} as a draft:"
        f" {plural(len(flow.questions), 'question')} in {', '.join(flow.languages)},"
        f" written to {report.path}. Publish it with: survey-gateway flows publish {flow.id}"
    )


@click.command("publish")
@click.argument("flow_id")
def flows_publish(flow_id: str) -> None:
    """Put the draft of FLOW_ID in service, in every running process, without a restart.

    Runs under way keep the version they started with.
    """
    from gateway.core.runtime import Runtime
    from gateway.surveys.services import NoDraft, publish_flow
    from gateway.surveys.xlsform_rules import XlsFormRefused

    rt = Runtime.build(Settings.from_env())
    try:
        report = publish_flow(rt, CLI_ACTOR, flow_id)
    except NoDraft as exc:
        raise CommandError(str(exc)) from None
    except XlsFormRefused as exc:
        raise CommandError("; ".join(str(p) for p in exc.problems)) from None
    replaced = (
        f", replacing version {report.replaced} (kept for runs under way)"
        if report.replaced
        else ""
    )
    click.echo(f"Published {flow_id} version {report.flow.version}{replaced}.")


@click.command("export")
@click.argument("flow_id")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The .xlsx file to write (default: FLOW_ID.xlsx here).",
)
def flows_export(flow_id: str, output: Path | None) -> None:
    """Write a flow as an XLSForm, to edit in a spreadsheet and import again."""
    from gateway.surveys.xlsform_export import xlsform_bytes

    settings = Settings.from_env()
    known = load_flows(settings.flows_folder)
    if flow_id not in known:
        raise BadSetup(f"no flow '{flow_id}' (known: {', '.join(sorted(known))})")
    target = output or Path(f"{flow_id}.xlsx")
    try:
        workbook = xlsform_bytes(known[flow_id])
    except ValueError as exc:  # what an XLSForm has no place for
        raise BadSetup(str(exc)) from None
    target.write_bytes(workbook)
    click.echo(f"Wrote {target}")
