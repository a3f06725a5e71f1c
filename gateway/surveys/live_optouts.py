"""Opt-outs in live state: STOP and START markers, read against the database's record.

A STOP sets ``optout:<respondent>``; a START removes it and leaves ``optin:<respondent>`` for a
day, until a worker has removed the opt-out from the database too. A marker missing is
believed only while the facts' copy is whole (see ``gateway.surveys.live_facts``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import redis

from gateway.surveys.live_keys import FACTS_READY_KEY, FactSource, optin_key, optout_key

# Far longer than the worker recording a START takes, retries included.
OPT_IN_SETTLING = timedelta(days=1)


class OptOutMarkers:
    """The opt-out part of the session store."""

    redis: redis.Redis
    facts: FactSource | None

    def is_opted_out(self, respondent: str) -> bool:
        """True when the respondent sent STOP and has not sent START since."""
        stop, start, ready = self.redis.mget(
            optout_key(respondent), optin_key(respondent), FACTS_READY_KEY
        )
        if stop is not None or start is not None or ready is not None or self.facts is None:
            # A START newer than the database's record of the STOP wins over it.
            return stop is not None
        return respondent in self.facts.opted_out_among([respondent])

    def opted_out_among(self, respondents: Sequence[str]) -> set[str]:
        """Those of ``respondents`` who opted out, asked in one round trip (for long lists)."""
        pipe = self.redis.pipeline(transaction=False)
        for respondent in respondents:
            pipe.exists(optout_key(respondent))
            pipe.exists(optin_key(respondent))
        pipe.exists(FACTS_READY_KEY)
        *found, ready = pipe.execute()
        stops, starts = found[0::2], found[1::2]
        opted_out = {r for r, hit in zip(respondents, stops, strict=True) if hit}
        if ready or self.facts is None:
            return opted_out
        started = {r for r, hit in zip(respondents, starts, strict=True) if hit}
        return opted_out | (self.facts.opted_out_among(respondents) - started)

    def set_opted_out(self, respondent: str, opted_out: bool) -> None:
        """Record STOP (True) or START (False).

        A START also leaves a mark for a day: until a worker has removed the opt-out from the
        database, a send that finds it there knows a START is on its way, not lost.
        """
        pipe = self.redis.pipeline()
        if opted_out:
            pipe.set(optout_key(respondent), "1")
            pipe.delete(optin_key(respondent))
        else:
            pipe.delete(optout_key(respondent))
            pipe.set(optin_key(respondent), "1", ex=OPT_IN_SETTLING)
        pipe.execute()

    def opt_in_pending(self, respondent: str) -> bool:
        """Whether a START was taken that the database may not hold yet."""
        return bool(self.redis.exists(optin_key(respondent)))
