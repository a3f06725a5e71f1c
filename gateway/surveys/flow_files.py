"""Flow files in the flows folder (GATEWAY_FLOWS_DIR): an imported XLSForm written as a draft,
whole or not at all; a draft published in its flow's place; the versions it replaces kept for
the runs still under way on them.

``<folder>/drafts/<id>.yaml`` is a draft: no household reaches it, a manager tries it in the
phone simulator. ``<folder>/<id>.yaml`` is the version new runs start on;
``<folder>/versions/<id>.v<N>.yaml`` keeps each earlier one (``flows.versions`` loads them).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from flows import Flow
from flows.gsm7 import GSM7_SINGLE, measure_sms, to_gsm7
from flows.sms_check import sms_overruns, sms_warnings
from flows.sms_compose import render_sms_question
from flows.versions import VERSIONS_FOLDER
from gateway.surveys.drafts import draft_path, load_draft, published_file
from gateway.surveys.xlsform_import import XlsFormImport, read_xlsform
from gateway.surveys.xlsform_rules import Problem, XlsFormRefused
from handlers.gsm import ascii_screen
from handlers.screens import MAX_SCREEN

# A question's own text must fit one USSD screen with the error line above it and the paging
# entries under it ("98. Suite", "0. Retour"); its options are paged.
_USSD_FOOTER = len("\n98. xxxxxxxx\n0. xxxxxxxx")


@dataclass
class ImportReport:
    """What an import did: the draft written, and what to look at before publishing it.

    ``unchanged`` says the form is the version already published, as it is: no draft then.
    """

    flow: Flow
    path: Path
    notes: list[str] = field(default_factory=list)
    too_long: list[str] = field(default_factory=list)
    unchanged: bool = False


@dataclass(frozen=True, slots=True)
class PublishReport:
    """What a publish did: the flow now in service, and the version it replaced (kept)."""

    flow: Flow
    path: Path
    replaced: int | None


def import_xlsform(source: bytes, folder: Path, *, name: str = "form.xlsx") -> ImportReport:
    """Read an XLSForm and write it as the draft of its form_id in ``folder``.

    An earlier draft of the same form is replaced: a draft runs for nobody. Raises
    XlsFormRefused when the form cannot run, or when its version is the one published with
    other content or is older: nothing is written then.
    """
    imported = read_xlsform(source, name=name)
    flow = imported.flow
    text = yaml.safe_dump(imported.document, allow_unicode=True, sort_keys=False, width=100)
    # The same warnings as `flows check` (characters outside GSM-7, endings and texts over one
    # SMS), then the questions' rows to shorten.
    warnings = [w for w in sms_warnings(flow) if "needs" not in w or ": question '" not in w]
    path = draft_path(folder, flow.id)
    report = ImportReport(flow, path, imported.notes, [*screen_problems(imported), *warnings])
    published = published_file(folder, flow.id)
    problem = _version_problem(published[1] if published else None, flow.version)
    if problem == _SAME and published is not None:
        # The same flow, though a hand-written file may differ in comments and layout.
        same = replace(published[1], source=flow.source) == flow
        if same or published[0].read_text(encoding="utf-8") == text:
            report.unchanged = True
            report.path = published[0]
            return report
        problem = (
            f"version {flow.version} is already in use with other questions or texts:"
            " raise the version so runs under way keep theirs"
        )
    if problem is not None:
        raise XlsFormRefused([Problem("settings", 2, "version", problem)])
    _write_atomically(path, text)
    return report


def publish_draft(folder: Path, flow_id: str) -> PublishReport | None:
    """Put the draft of ``flow_id`` in its flow's place; None when there is no draft.

    The version it replaces is kept for the runs under way on it. Raises XlsFormRefused when a
    version as new or newer was published since the draft was imported.
    """
    source = draft_path(folder, flow_id)
    flow = load_draft(folder, flow_id)
    if flow is None:
        return None
    published = published_file(folder, flow.id)
    current = published[1] if published else None
    problem = _version_problem(current, flow.version)
    if problem is not None:
        problem = problem if problem != _SAME else f"version {flow.version} is already in use"
        raise XlsFormRefused([Problem("settings", 2, "version", problem)])
    # In place of the file it replaces, unless that one ships with the gateway (or none does).
    path = folder / f"{flow.id}.yaml"
    if published is not None:
        if published[0].parent == folder:
            path = published[0]
        # Kept for the runs under way on it, before the new version takes its place: a shipped
        # flow's too, or its runs would go on with questions they did not start with.
        archive = folder / VERSIONS_FOLDER / f"{flow.id}.v{published[1].version}.yaml"
        _write_atomically(archive, published[0].read_text(encoding="utf-8"))
    os.replace(source, path)
    return PublishReport(flow, path, current.version if current is not None else None)


_SAME = "same"


def _version_problem(current: Flow | None, version: int) -> str | None:
    """Why ``version`` cannot follow the published ``current`` (``_SAME``: the same number)."""
    if current is None or current.version < version:
        return None
    if current.version == version:
        return _SAME
    return f"version {current.version} is already in use: raise the version above it"


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def screen_problems(imported: XlsFormImport) -> list[str]:
    """The survey rows whose text does not fit a USSD screen or one SMS, per language."""
    flow = imported.flow
    found: list[str] = []
    for question in flow.questions:
        row = imported.rows.get(question.key)
        for language in flow.languages:
            text = question.text.get(language, "")
            labels = [o.label.get(language, "") for o in question.options]
            error = (question.error or {}).get(language, "")
            where = f"survey row {row} ({question.key}) [{language}]"
            screen = len(ascii_screen("\n".join(filter(None, [error, text]))))
            budget = MAX_SCREEN - len("CON ") - _USSD_FOOTER
            if screen > budget:
                found.append(
                    f"{where}: the USSD screen text is {screen} characters;"
                    f" shorten it by {screen - budget}"
                )
            sms = measure_sms(to_gsm7(render_sms_question(text, labels)))
            if sms.segments > 1:
                found.append(
                    f"{where}: the SMS with its options is {sms.units} characters;"
                    f" shorten it by {sms.units - GSM7_SINGLE} to fit one SMS"
                )
    # Each message composed from the flow too (a question after an error, the offer, the
    # reminder, the confirmation), as `flows check` measures them.
    return found + sms_overruns(flow)
