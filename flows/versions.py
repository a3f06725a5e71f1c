"""Earlier versions of flows, kept so that a run ends on the version it started with.

A flows folder holds the version new runs start on as ``<id>.yaml``; an import that replaces it
keeps the one replaced as ``versions/<id>.v<N>.yaml`` there.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from flows.errors import FlowError
from flows.loader import load_flow
from flows.model import Flow
from flows.run import RunState

VERSIONS_FOLDER = "versions"

FlowVersions = Mapping[tuple[str, int], Flow]
"""Flows by id and version."""


def load_flow_versions(
    extra_dir: Path | None, current: Mapping[str, Flow]
) -> dict[tuple[str, int], Flow]:
    """Every version of every flow: the ``current`` ones and those kept in ``extra_dir``."""
    found = {(flow.id, flow.version): flow for flow in current.values()}
    if extra_dir is not None:
        for path in sorted((extra_dir / VERSIONS_FOLDER).glob("*.yaml")):
            flow = load_flow(path)
            found.setdefault((flow.id, flow.version), flow)
    return found


def flow_of_run(latest: Flow, state: RunState, versions: FlowVersions) -> Flow:
    """The version of the flow ``state`` started on, or ``latest`` when it is not kept."""
    if state.flow_version == latest.version or state.flow_id != latest.id:
        return latest
    return versions.get((state.flow_id, state.flow_version), latest)


def check_flow_versions(extra_dir: Path | None) -> tuple[list[FlowError], int]:
    """Every problem in the versions kept in ``extra_dir``, and how many files were read.

    Runs under way go on with these: one that no longer loads, or whose name says another
    flow or version than its content, would stop them at their next answer.
    """
    problems: list[FlowError] = []
    paths = sorted((extra_dir / VERSIONS_FOLDER).glob("*.yaml")) if extra_dir else []
    for path in paths:
        try:
            flow = load_flow(path)
        except FlowError as exc:
            problems.append(FlowError(f"{VERSIONS_FOLDER}/{exc.source}", exc.state, exc.problem))
            continue
        expected = f"{flow.id}.v{flow.version}.yaml"
        if path.name != expected:
            problems.append(
                FlowError(
                    f"{VERSIONS_FOLDER}/{path.name}",
                    None,
                    f"holds {flow.id} version {flow.version}: name it {expected}",
                )
            )
    return problems, len(paths)
