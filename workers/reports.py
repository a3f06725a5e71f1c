"""The job behind ``ANNULER REF``: withdraw an enumerator's report, then tell them what became
of it.

The report may still be waiting to be stored (sent a moment before): the runs waiting are
stored first, so a reference just shown is found.
"""

from __future__ import annotations

from datetime import datetime

from gateway.enumerators.registrations import ENUMERATOR_FLOW
from gateway.reports.services import Withdrawal, withdraw
from gateway.surveys.pending_work import has_dirty
from handlers.gsm import ascii_screen
from workers.context import current
from workers.sms import record_reply
from workers.storage import drain_runs


def withdraw_report(
    key: str, respondent: str, code: str, typed: str, language: str, at: str
) -> None:
    """Withdraw the report ``typed`` names if it is enumerator ``code``'s and an hour has not
    passed since it was sent (``at`` is when ANNULER arrived); answer by SMS, once."""
    rt = current().runtime
    asked_at = datetime.fromisoformat(at)
    with rt.sessions.begin() as session:
        outcome, reference = withdraw(session, respondent, code, typed, asked_at)
    if outcome is Withdrawal.UNKNOWN and has_dirty(rt.redis):
        drain_runs()
        with rt.sessions.begin() as session:
            outcome, reference = withdraw(session, respondent, code, typed, asked_at)
    phone_token = rt.store.phone(respondent)
    if phone_token is None:
        return  # erased since: nobody to tell
    texts = rt.flows[ENUMERATOR_FLOW]
    body = texts.text(outcome.value, texts.language_or_default(language), ref=reference)
    record_reply(key, respondent, phone_token, "report_withdrawal", ascii_screen(body))
