"""``flows import FORM.xlsx`` and ``flows export FLOW``: XLSForms in and out of the flows folder."""

from __future__ import annotations

from pathlib import Path

import click

from flows import load_flows
from gateway.cli.errors import BadSetup, CommandError
from gateway.cli.terminal import plural
from gateway.core.settings import Settings


@click.command("import")
@click.argument("form", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def flows_import(form: Path) -> None:
    """Import an XLSForm (KoBoToolbox, ODK) as a flow in GATEWAY_FLOWS_DIR.

    Restart the gateway (or its web and worker processes) for new runs to use it; runs under
    way keep the version they started with.
    """
    # pyxform takes a while to load: every other command starts without it.
    from gateway.surveys.flow_files import import_xlsform
    from gateway.surveys.xlsform_rules import XlsFormRefused

    settings = Settings.from_env()
    folder = settings.flows_folder
    try:
        report = import_xlsform(form.read_bytes(), folder, name=form.name)
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
        click.echo(
            f"{flow.id} version {flow.version} is already imported, unchanged: {report.path}"
        )
        return
    replaced = (
        f", replacing version {report.replaced} (kept for runs under way)"
        if report.replaced
        else ""
    )
    click.echo(
        f"Imported {flow.id} version {flow.version}: {plural(len(flow.questions), 'question')}"
        f" in {', '.join(flow.languages)}, written to {report.path}{replaced}."
    )


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
    target.write_bytes(xlsform_bytes(known[flow_id]))
    click.echo(f"Wrote {target}")
