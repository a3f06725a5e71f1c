"""Errors of the flow engine.

FlowError        a flow file is invalid; names the file, the state and the problem
RunStateError    a stored run state cannot be read back (corrupt, or for another flow)
"""

from __future__ import annotations


class FlowError(Exception):
    """A flow definition is invalid."""

    def __init__(self, source: str, state: str | None, problem: str) -> None:
        self.source = source
        self.state = state
        self.problem = problem
        where = f"{source}: state '{state}'" if state else source
        super().__init__(f"{where}: {problem}")


class RunStateError(Exception):
    """A stored run state is corrupt or does not belong to the flow it is resumed with."""
