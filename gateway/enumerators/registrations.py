"""Enumerators: registration from a completed run, and a supervisor's decisions on it.

An enumerator registers by SMS (the ``enumerator_registration`` flow); the job that stores the
completed run calls :func:`register_from_snapshot`, which records them as ``pending``. A
supervisor then approves (a code is given and an SMS queued), rejects or revokes them.

Like ``gateway.surveys.persistence``, every function takes a SQLAlchemy session and leaves
committing to
the caller. The Redis marker that shows an approved enumerator the USSD enumerator menu is the
caller's to set once committed (``RedisSessionStore.set_enumerator(pseudonym,
redis_marker(enumerator))``): these functions know only SQL.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from flows import Flow
from gateway.core.clock import utc_now
from gateway.core.crypto import REFERENCE_ALPHABET, NumberCipher
from gateway.core.errors import DomainError
from gateway.core.lookup import rows_by_id

# Named in the settings, which the runtime (in core) reads; re-exported for this domain's callers.
from gateway.core.settings import ENUMERATOR_FLOW as ENUMERATOR_FLOW
from gateway.enumerators.models import Enumerator, EnumeratorStatus
from gateway.surveys.models import Respondent, Submission
from gateway.surveys.persistence import create_message
from handlers.gsm import ascii_screen
from handlers.phone import mask_phone

APPROVED_KIND = "enumerator_approved"
APPROVED_TEXT = "approved"
CODE_PREFIX = "ENQ-"
CODE_LENGTH = 4
# Crockford's reading rules, as for references: what a person may type for a look-alike.
_CODE_READING = str.maketrans({"I": "1", "L": "1", "O": "0"})
# Past this many tries the code space is close to full: a person must look, not a loop.
_CODE_TRIES = 20


class EnumeratorError(DomainError):
    """A supervisor's request that cannot be done: unknown (404), ambiguous or not in this
    status (409)."""


@dataclass(frozen=True, slots=True)
class Approval:
    """An approved enumerator and the approval SMS queued for them (None if already approved)."""

    enumerator: Enumerator
    message_id: str | None


def register_from_snapshot(
    session: Session,
    *,
    respondent_id: str,
    phone_e164: str,
    answers: Mapping[str, str],
    run_id: str,
    cipher: NumberCipher,
    at: datetime,
) -> Enumerator:
    """Record a completed registration run as a pending enumerator; the same run registers once.

    Someone registering again while pending, rejected or revoked gets their details updated and
    waits for a decision again; an approved enumerator stays approved, details unchanged.
    """
    same_run = session.scalars(select(Enumerator).where(Enumerator.run_id == run_id)).first()
    if same_run is not None:
        return same_run
    existing = session.scalars(
        select(Enumerator).where(Enumerator.respondent_id == respondent_id)
    ).first()
    if existing is not None and existing.status is EnumeratorStatus.APPROVED:
        return existing
    details = {
        "phone_encrypted": cipher.encrypt(phone_e164),
        "phone_masked": mask_phone(phone_e164),
        "full_name": answers["full_name"],
        "region": answers["region"],
        "site": answers["site"],
        "run_id": run_id,
        "status": EnumeratorStatus.PENDING,
        "decided_at": None,
    }
    if existing is None:
        existing = Enumerator(respondent_id=respondent_id, created_at=at, **details)
        session.add(existing)
    else:
        for name, value in details.items():
            setattr(existing, name, value)
    session.flush()
    return existing


def list_enumerators(session: Session, status: EnumeratorStatus | None = None) -> list[Enumerator]:
    """Enumerators, oldest registration first, all of them or those in one status."""
    stmt = select(Enumerator).order_by(Enumerator.created_at, Enumerator.id)
    if status is not None:
        stmt = stmt.where(Enumerator.status == status)
    return list(session.scalars(stmt))


def find_enumerator(session: Session, ident: str) -> Enumerator:
    """The enumerator a supervisor named: by code (``ENQ-7K3D``, any case) or by id or id prefix.

    Raises EnumeratorError when nobody, or more than one enumerator, matches.
    """
    text = "".join(ident.split())
    code = normalise_code(text)
    if code is not None:
        found = session.scalars(select(Enumerator).where(Enumerator.code == code)).first()
        if found is not None:
            return found
    prefix = text.lower()
    # Shorter prefixes than elsewhere: a supervisor reads these ids off a phone.
    matches = rows_by_id(session, Enumerator, prefix, min_prefix=4)
    if not matches:
        raise EnumeratorError(f"no enumerator has the code or id '{ident.strip()}'", status=404)
    if len(matches) > 1:
        raise EnumeratorError(f"more than one enumerator has an id starting '{prefix}'", status=409)
    return matches[0]


def normalise_code(text: str) -> str | None:
    """An enumerator code as a person typed it (case, spaces, dash, I/L/O), or None."""
    cleaned = "".join(text.split()).upper().replace("-", "")
    if not cleaned.startswith("ENQ") or len(cleaned) != len("ENQ") + CODE_LENGTH:
        return None
    chars = cleaned[len("ENQ") :].translate(_CODE_READING)
    if any(c not in REFERENCE_ALPHABET for c in chars):
        return None
    return CODE_PREFIX + chars


def approve(
    session: Session,
    ident: str,
    cipher: NumberCipher,
    flow: Flow,
    *,
    now: datetime | None = None,
) -> Approval:
    """Approve an enumerator: give them a code (kept from before if revoked) and queue the SMS.

    ``flow`` is the registration flow, whose ``approved`` text the SMS is. Approving someone
    already approved changes nothing and queues nothing.
    """
    enumerator = find_enumerator(session, ident)
    if enumerator.status is EnumeratorStatus.APPROVED:
        return Approval(enumerator, None)
    enumerator.code = enumerator.code or _new_code(session)
    enumerator.status = EnumeratorStatus.APPROVED
    enumerator.decided_at = now or utc_now()
    respondent = session.get(Respondent, enumerator.respondent_id)
    language = flow.language_or_default(respondent.language if respondent else None)
    body = ascii_screen(flow.text(APPROVED_TEXT, language, code=enumerator.code))
    # Tied to the registration run, when it is still stored, so its SMS is made once.
    run_stored = session.get(Submission, enumerator.run_id) is not None
    message = create_message(
        session,
        submission_id=enumerator.run_id if run_stored else None,
        respondent_id=enumerator.respondent_id,
        kind=APPROVED_KIND,
        to_e164=cipher.decrypt(enumerator.phone_encrypted),
        body=body,
        cipher=cipher,
    )
    session.flush()
    return Approval(enumerator, message.id)


def reject(session: Session, ident: str, *, now: datetime | None = None) -> Enumerator:
    """Turn down a pending registration (an approved enumerator is revoked, not rejected)."""
    return _decide(session, ident, EnumeratorStatus.PENDING, EnumeratorStatus.REJECTED, now)


def revoke(session: Session, ident: str, *, now: datetime | None = None) -> Enumerator:
    """Withdraw an approval: the enumerator is a household again on the next dial."""
    return _decide(session, ident, EnumeratorStatus.APPROVED, EnumeratorStatus.REVOKED, now)


# Why a decision is refused from another status, and the status whose refusal points to the
# other command.
_REFUSALS = {
    EnumeratorStatus.REJECTED: (
        "only a pending registration can be rejected",
        (EnumeratorStatus.APPROVED, " (use revoke)"),
    ),
    EnumeratorStatus.REVOKED: (
        "only an approved enumerator can be revoked",
        (EnumeratorStatus.PENDING, " (use reject)"),
    ),
}


def _decide(
    session: Session,
    ident: str,
    frm: EnumeratorStatus,
    to: EnumeratorStatus,
    now: datetime | None,
) -> Enumerator:
    """Move an enumerator from ``frm`` to ``to``; done already is fine, any other start is not."""
    enumerator = find_enumerator(session, ident)
    if enumerator.status is to:
        return enumerator
    if enumerator.status is not frm:
        refusal, (other, use_other) = _REFUSALS[to]
        hint = use_other if enumerator.status is other else ""
        raise EnumeratorError(
            f"enumerator {enumerator.id[:8]} is {enumerator.status}: {refusal}{hint}", status=409
        )
    enumerator.status = to
    enumerator.decided_at = now or utc_now()
    session.flush()
    return enumerator


def redis_marker(enumerator: Enumerator) -> str | None:
    """What the live store must hold for this pseudonym: the code while approved, else nothing."""
    return enumerator.code if enumerator.status is EnumeratorStatus.APPROVED else None


def _new_code(session: Session) -> str:
    for _ in range(_CODE_TRIES):
        code = CODE_PREFIX + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(CODE_LENGTH))
        if session.scalars(select(Enumerator.id).where(Enumerator.code == code)).first() is None:
            return code
    raise EnumeratorError(
        "no free enumerator code found: the code space is nearly used up", status=409
    )
