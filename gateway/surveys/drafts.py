"""Drafts: flows imported but not yet published, kept in ``<flows folder>/drafts/<id>.yaml``.

No household reaches a draft (the flows loaded for the USSD code, the SMS keywords and the
campaigns are those of the folder itself); a manager tries one in the phone simulator, then
publishes it (``gateway.surveys.flow_files``). Reading one needs no XLSForm library.
"""

from __future__ import annotations

from pathlib import Path

from flows import Flow, FlowError, load_flow
from flows.loader import flow_files

DRAFTS_FOLDER = "drafts"


def draft_path(folder: Path, flow_id: str) -> Path:
    """Where the draft of ``flow_id`` is kept."""
    return folder / DRAFTS_FOLDER / f"{flow_id}.yaml"


def load_draft(folder: Path, flow_id: str) -> Flow | None:
    """The draft of ``flow_id``, or None when there is none (or it no longer loads)."""
    # A name from a URL must stay a file name in the drafts folder.
    if not flow_id or "/" in flow_id or "\\" in flow_id or flow_id.startswith("."):
        return None
    return flow_at(draft_path(folder, flow_id))


def drafts(folder: Path) -> list[Flow]:
    """Every draft waiting in ``folder``, by flow id."""
    found = (load_draft(folder, p.stem) for p in sorted((folder / DRAFTS_FOLDER).glob("*.yaml")))
    return [flow for flow in found if flow is not None]


def flow_at(path: Path) -> Flow | None:
    """The flow in ``path``, or None when there is no such file or it does not load."""
    if not path.exists():
        return None
    try:
        return load_flow(path)
    except FlowError:
        return None  # a broken file is replaced; `flows check` had reported it


def published_file(folder: Path, flow_id: str) -> tuple[Path, Flow] | None:
    """The file new runs of ``flow_id`` start on, and its flow: one of ``folder``, or a shipped
    one (the last that defines it, as the flows are loaded)."""
    found = None
    for path in flow_files(folder):
        flow = flow_at(path)
        if flow is not None and flow.id == flow_id:
            found = (path, flow)
    return found
