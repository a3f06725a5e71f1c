"""What the channels do for an enumerator's report that they do not for a household's survey.

A report flow (``subject: report``) is started only by an approved enumerator: from the USSD
enumerator menu or by its SMS keyword. Its run belongs to the enumerator, is marked with their
code, and ends on a screen that shows the report's reference; ``ANNULER REF`` (``CANCEL REF``)
by SMS withdraws it within the hour. Whether someone is an approved enumerator is asked of the
live store on every step, which falls back to the database when Redis lost its copy: a revoked
enumerator's report stops at the next step.
"""

from __future__ import annotations

from flows import Flow
from handlers.ports import Services

WITHDRAW_WORDS = frozenset({"ANNULER", "CANCEL"})
"""First words of an SMS that withdraws a report: ``ANNULER 7K3D9Q``."""
REFUSED_TEXT = "refused"
"""The report flow's text for a step from someone who is no longer an approved enumerator."""


def with_reference(flow: Flow, run_id: str, text: str, services: Services) -> str:
    """A report's ending ``text`` with its reference filled in; any other text as it is."""
    if not flow.is_report or services.report_reference is None:
        return text
    return text.replace("{ref}", services.report_reference(run_id))
