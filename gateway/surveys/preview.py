"""A draft flow tried in the phone simulator before it is published: nothing stored as data.

The simulator's USSD and SMS doors run the draft through the very handlers households meet,
with these services instead of the gateway's: the run lives in Redis under a pseudonym of its
own (never the simulator number's, so a published flow's run of that phone is not touched),
no run is handed to the workers (no submission, no reminder, no outbox row), and the SMS
replies go to a short-lived list in Redis that the simulator page reads.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from redis import Redis

from gateway.core.clock import utc_now
from handlers.ports import Reply, Services

# How long a preview's replies are kept: a manager tries a draft in minutes.
PREVIEW_KEEP_S = 3600
MAX_REPLIES = 50
_INBOX_KEY = "sg:preview:inbox:{respondent}"


def preview_respondent(pseudonym: str, nonce: str) -> str:
    """The pseudonym a preview answers as: the phone's, apart for each preview started."""
    digest = hashlib.sha256(f"{pseudonym}:{nonce}".encode()).hexdigest()[:48]
    return f"preview-{digest}"


@dataclass(frozen=True, slots=True)
class PreviewJobs:
    """The handlers' JobQueue for a preview: replies kept for the page, nothing else done."""

    redis: Redis

    def sync_run(self, run_id: str, seq: int) -> None:
        """Nothing: a preview's answers are not data."""

    def send_sms(self, reply: Reply) -> None:
        """Keep the reply for the simulator page (it never goes out)."""
        key = _INBOX_KEY.format(respondent=reply.respondent)
        item = json.dumps({"id": reply.key, "at": utc_now().isoformat(), "body": reply.body})
        pipe = self.redis.pipeline(transaction=True)
        pipe.rpush(key, item)
        pipe.ltrim(key, -MAX_REPLIES, -1)
        pipe.expire(key, PREVIEW_KEEP_S)
        pipe.execute()

    def remind(self, run_id: str, seq: int, number: int, delay: timedelta) -> None:
        """Nothing: nobody waits a day for a reminder in a preview."""

    def erase_respondent(self, respondent: str, phone_token: str, body: str) -> None:
        """Nothing is stored to erase; the confirmation is shown."""
        reply = Reply(f"erase:{respondent}", respondent, phone_token, "erased", body)
        self.send_sms(reply)

    def record_opt_out(self, respondent: str, opted_out: bool, at: datetime) -> None:
        """Nothing: a preview's STOP is no household's."""

    def withdraw_report(
        self, reply: Reply, code: str, typed: str, language: str, at: datetime
    ) -> None:
        """Nothing: a preview stores no report to withdraw."""


def preview_services(services: Services, redis: Redis, respondent: str) -> Services:
    """``services`` for a preview answering as ``respondent``: runs start on the draft given
    to the handler, answers and replies stay in Redis."""
    return replace(
        services,
        jobs=PreviewJobs(redis),
        pseudonymise=lambda _phone: respondent,
        # Only the draft runs: no enumerator menu, no earlier version to resume on.
        enumerator_flow=None,
        flow_versions={},
    )


def preview_replies(redis: Redis, respondent: str, after: datetime | None) -> list[dict[str, str]]:
    """The replies of a preview after ``after`` (every one kept when None), oldest first."""
    found = []
    for raw in redis.lrange(_INBOX_KEY.format(respondent=respondent), 0, -1):
        item = json.loads(raw)
        at = datetime.fromisoformat(item["at"]).astimezone(UTC)
        if after is None or at > after:
            found.append(item)
    return found
