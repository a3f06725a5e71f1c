"""The jobs: copy a run into the database, and send a message.

Both take ids and are safe to run twice or late. Errors are left to raise so RQ's retries and
its failed-job registry see them; only outcomes that no retry can change are recorded and end
the job quietly.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from flows import RunStatus
from flows.sms_compose import CONFIRMATION_TEXT, confirmation_sms
from gateway.campaigns.definition import link_run
from gateway.campaigns.models import Campaign
from gateway.core.crypto import reference_code
from gateway.core.errors import PermanentSendError, SendOutcomeUnknown, TransientSendError
from gateway.core.rate_limit import RateLimiter
from gateway.enumerators.registrations import ENUMERATOR_FLOW, register_from_snapshot
from gateway.messaging.models import Message, MessageStatus
from gateway.messaging.sender import SendStatus
from gateway.reports.services import keep_report
from gateway.surveys.models import OptOut, Submission, SubmissionStatus
from gateway.surveys.persistence import (
    RunSnapshot,
    SnapshotStatus,
    create_message,
    sync_submission,
)
from handlers.ports import RunRecord
from workers.context import WorkerContext, current

log = logging.getLogger(__name__)

CONFIRMATION = CONFIRMATION_TEXT
# The confirmation of a STOP is the one message an opted-out number still gets.
SENT_WHEN_OPTED_OUT = frozenset({"opt_out"})
# The confirmation of a START goes to someone who has just opted back in, before the worker
# that removes the opt-out from the database may have run.
SENT_ON_OPT_IN = frozenset({"opt_in"})
# The longest wait for a campaign's throttle slept within a send; longer, the send is deferred.
MAX_PACE_SLEEP_S = 2.0
# Grants are spaced 5% wider than the throttle: the moment a request reaches AT varies by some
# milliseconds after its grant (a busy machine, the SDK), and the margin keeps that jitter, up
# to 50 ms in every second, from putting one send too many into a second at AT's end.
DOOR_MARGIN = 0.95
# An expired run stays "started" in the database: the export derives "expired" from expires_at.
_SNAPSHOT_STATUS: dict[RunStatus, SnapshotStatus] = {
    RunStatus.ACTIVE: "active",
    RunStatus.COMPLETED: "completed",
    RunStatus.DECLINED: "declined",
}
SYNC_LOCK_TIMEOUT_S = 60
_SENDABLE = (MessageStatus.QUEUED, MessageStatus.SENDING)
INTERRUPTED = "the worker stopped while sending: check with AT whether it went"
OPTED_OUT = "not sent: the number opted out (STOP)"


class OptOutSettling(Exception):
    """The database still holds an opt-out that Redis says was lifted by START: the worker
    recording the START has not run yet. RQ retries the send once it has."""


def sync_run(run_id: str, seq: int | None = None) -> None:
    """Make the database match the run's latest state; queue its confirmation once completed.

    Runs are stored in batches by ``workers.storage.drain_runs`` now; this job remains for
    jobs queued before, and stores one run alone. ``seq`` is the run step that queued it:
    when the run has moved past it, a later drain stores the newer state.
    """
    rt = current().runtime
    record = rt.store.load_run(run_id)
    if record is None:
        log.info("run %s is gone from live state; nothing to sync", run_id)
        return
    if seq is not None and record.state.seq > seq:
        return
    # Two workers may hold jobs of the same run: one at a time, so the newest state wins.
    with rt.redis.lock(f"sg:sync:{run_id}", timeout=SYNC_LOCK_TIMEOUT_S, blocking_timeout=30):
        with rt.sessions.begin() as session:
            message_id = store_run(session, record)
    if message_id is not None:
        rt.jobs.send_message(message_id)


def store_run(session: Session, record: RunRecord) -> str | None:
    """Write the run into ``session``; the id of the confirmation to send once committed."""
    rt = current().runtime
    run_id = record.state.run_id
    if rt.flow_of(record.state).is_report:
        # An enumerator's report: kept once completed, in its own table; its ending showed
        # the reference, so no confirmation follows.
        if record.state.status is RunStatus.COMPLETED and record.enumerator is not None:
            keep_report(session, snapshot(record), record.enumerator)
        return None
    stored = session.get(Submission, run_id)
    was_completed = stored is not None and stored.status is SubmissionStatus.COMPLETED
    submission = sync_submission(session, snapshot(record))
    if stored is None:
        # A household that dials in after a campaign's USSD invitation: the run is the
        # campaign's, for its counts and exports.
        link_run(session, record.respondent, record.state.flow_id, run_id, record.state.started_at)
    # The confirmation is made by the store that completes the submission, and only it: a
    # later one must not queue the message again while it waits for a retry. A flow without a
    # confirmation text sends none; a registration is answered by the supervisor's approval.
    completes = record.state.status is RunStatus.COMPLETED and not was_completed
    if completes and record.state.flow_id == ENUMERATOR_FLOW:
        _register_enumerator(session, record)
    elif completes and CONFIRMATION in rt.flow_of(record.state).texts:
        message = create_message(
            session,
            submission_id=submission.id,
            respondent_id=record.respondent,
            kind=CONFIRMATION,
            to_e164=rt.cipher.decrypt(record.phone_token),
            body=confirmation_text(record, submission.reference or reference_code(run_id)),
            cipher=rt.cipher,
        )
        return message.id
    return None


def _register_enumerator(session: Session, record: RunRecord) -> None:
    rt = current().runtime
    register_from_snapshot(
        session,
        respondent_id=record.respondent,
        phone_e164=rt.cipher.decrypt(record.phone_token),
        answers={key: answer.value for key, answer in record.state.answers.items()},
        run_id=record.state.run_id,
        cipher=rt.cipher,
        at=record.state.updated_at,
    )


def send_message(message_id: str) -> None:
    """Send one queued message and record what became of it."""
    ctx = current()
    rt = ctx.runtime
    with rt.sessions.begin() as session:
        # Locked until the claim commits: two jobs of one message (a retry of a job thought
        # dead, a sweep) cannot both find it queued.
        message = session.get(Message, message_id, with_for_update=True)
        if message is None or message.status not in _SENDABLE:
            return  # already sent, failed for good, or erased
        if message.status is MessageStatus.SENDING:
            # An earlier attempt claimed it and died before writing what AT said (a worker
            # killed mid-send): AT may have taken it, and sending again could text twice.
            log.warning("message %s: an earlier send died midway; marked for a check", message_id)
            message.status = MessageStatus.UNKNOWN
            message.error = INTERRUPTED
            return
        if message.kind not in SENT_WHEN_OPTED_OUT and _opted_out(session, message):
            message.status = MessageStatus.FAILED
            message.error = OPTED_OUT
            return
        throttle = _throttle_of(session, message)
        # The claim, committed before AT is called: a retry can then tell "never tried"
        # from "tried, outcome lost with the worker". A compare-and-set, because the row lock
        # above is PostgreSQL's alone: SQLite reads outside any transaction, so a second job
        # can find the message queued while the first is claiming it.
        claim = (
            update(Message)
            .where(Message.id == message_id, Message.status == MessageStatus.QUEUED)
            .values(status=MessageStatus.SENDING)
            .execution_options(synchronize_session=False)
        )
        if _updated(session, claim) != 1:
            return  # another job claimed it first
        to = rt.cipher.decrypt(message.to_encrypted)
        body = message.body
    if throttle is not None:
        # The grant is taken after the claim's commit, the last thing before AT is called, so
        # the moment AT sees the request follows it closely.
        later = _pace(ctx, throttle)
        if later is not None:
            # The campaign's throttle is spent for a while: the send waits its turn, unclaimed.
            _unclaim(message_id)
            rt.jobs.send_message_at(message_id, later, f"send-{message_id}-{uuid.uuid4().hex}")
            return
    try:
        result = ctx.sender.send(to, body)
    except TransientSendError as exc:
        # AT certainly did not take it: back in the queue for RQ's retry.
        _record(message_id, status=MessageStatus.QUEUED, attempts=1, error=str(exc))
        raise  # RQ retries with backoff
    except SendOutcomeUnknown as exc:
        # Before PermanentSendError, which it also is. AT may have sent it: sending again
        # could text the person twice, so no retry; it is marked for a check instead.
        log.warning("message %s: outcome unknown, marked for a check: %s", message_id, exc)
        _record(message_id, status=MessageStatus.UNKNOWN, attempts=1, error=str(exc))
        return
    except PermanentSendError as exc:
        log.warning("message %s failed for good: %s", message_id, exc)
        _record(message_id, status=MessageStatus.FAILED, attempts=1, error=str(exc))
        return
    status = MessageStatus.SENT if result.status is SendStatus.SENT else MessageStatus.RECORDED
    _record(
        message_id,
        status=status,
        attempts=1,
        provider_id=result.provider_id,
        cost=result.cost,
        error=None,
    )


def _opted_out(session: Session, message: Message) -> bool:
    """Whether the message's number opted out: the database's record first, then Redis.

    Redis alone is never believed here: it may have lost a STOP. It can only add one (a STOP
    whose worker has not written it to the database yet).
    """
    store = current().runtime.store
    on_record = session.get(OptOut, message.respondent_id) is not None
    if not on_record:
        return store.is_opted_out(message.respondent_id)
    if message.kind in SENT_ON_OPT_IN:
        return False
    if store.opt_in_pending(message.respondent_id):
        raise OptOutSettling(f"message {message.id}: a START is still being recorded")
    return True


def _throttle_of(session: Session, message: Message) -> tuple[str, float] | None:
    """The rate-limiter key and rate a send must keep to: its campaign's, if it has one."""
    if message.campaign_id is None:
        return None
    throttle = session.scalar(select(Campaign.throttle).where(Campaign.id == message.campaign_id))
    if throttle is None or throttle <= 0:
        return None
    return door_key(message.campaign_id), float(throttle) * DOOR_MARGIN


def _pace(ctx: WorkerContext, throttle: tuple[str, float]) -> datetime | None:
    """Take the campaign's grant for this send, shared by every worker through Redis, so no
    backlog, restart or number of workers makes AT see more than the throttle.

    Returns None once granted (a short wait is slept here), or when to try again if the wait
    is long.
    """
    key, rate = throttle
    limiter = RateLimiter(ctx.runtime.redis, ctx.clock)
    wait = limiter.try_acquire(key, rate)
    while wait > 0:
        if wait > MAX_PACE_SLEEP_S:
            return ctx.clock.now() + timedelta(seconds=wait)
        ctx.clock.sleep(wait)
        wait = limiter.try_acquire(key, rate)
    return None


def _unclaim(message_id: str) -> None:
    """Give a claimed message back to the queue: AT was not called."""
    with current().runtime.sessions.begin() as session:
        session.execute(
            update(Message)
            .where(Message.id == message_id, Message.status == MessageStatus.SENDING)
            .values(status=MessageStatus.QUEUED)
            .execution_options(synchronize_session=False)
        )


def _updated(session: Session, statement: Any) -> int:
    """Run an UPDATE; how many rows it changed."""
    result: CursorResult[Any] = session.execute(statement)  # type: ignore[assignment]
    return result.rowcount


def door_key(campaign_id: str) -> str:
    """The rate-limiter key of a campaign's sends to AT."""
    return f"sg:campaign:{campaign_id}:at-door"


def _record(
    message_id: str,
    *,
    attempts: int,
    error: str | None,
    status: MessageStatus | None = None,
    provider_id: str | None = None,
    cost: str | None = None,
) -> None:
    with current().runtime.sessions.begin() as session:
        message = session.get(Message, message_id)
        if message is None:
            return
        message.attempts += attempts
        message.error = error
        if status is not None:
            message.status = status
        if provider_id is not None:
            message.provider_id = provider_id
        if cost is not None:
            message.cost = cost


def snapshot(record: RunRecord) -> RunSnapshot:
    """The run as the database layer takes it."""
    state = record.state
    ended = state.status in (RunStatus.COMPLETED, RunStatus.DECLINED)
    return RunSnapshot(
        run_id=state.run_id,
        respondent_id=record.respondent,
        flow=state.flow_id,
        flow_version=state.flow_version,
        channel=record.channel,
        language=state.language,
        status=_SNAPSHOT_STATUS.get(state.status, "active"),
        started_at=state.started_at,
        updated_at=state.updated_at,
        expires_at=state.expires_at,
        completed_at=state.updated_at if ended else None,
        answers={k: (a.value, a.seq, a.at) for k, a in state.answers.items()},
        enumerator_code=record.enumerator,
    )


def confirmation_text(record: RunRecord, reference: str) -> str:
    """The confirmation SMS: a reference code, never the answers."""
    flow = current().runtime.flow_of(record.state)
    return confirmation_sms(flow, record.state.language, reference)
