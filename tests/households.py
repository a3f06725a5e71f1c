"""Survey data for results, report and export tests: households as the worker stores them.

``FORTY`` is 40 completed households whose counts are chosen so every expected number in the
tests can be checked by hand (see the comments); ``MALI`` is the 69% return / 28% stay shape of
IOM's Mali return-intention surveys, on 100 households.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, time, timedelta

from sqlalchemy.orm import Session

from gateway.campaigns.models import Campaign, CampaignChannel, CampaignContact
from gateway.core.crypto import pseudonymise
from gateway.surveys.persistence import RunSnapshot, sync_submission

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
FLOW = "return_intention"


def answers(
    current: str,
    origin: str,
    size: int,
    intention: str,
    need_1: str,
    need_2: str,
) -> dict[str, str]:
    """A full set of answers to return_intention, in question order, as codes."""
    given = {
        "consent": "yes",
        "current_region": current,
        "origin_region": origin,
        "household_size": str(size),
        "intention": intention,
    }
    if intention in ("return", "relocate"):
        given["timing"] = "1_3m"
    else:
        given["obstacle"] = "insecurity"
    given["need_1"] = need_1
    given["need_2"] = need_2
    return given


def snapshot(
    run_id: str,
    given: dict[str, str],
    *,
    start: timedelta = timedelta(0),
    status: str = "completed",
    flow: str = FLOW,
    number: str | None = None,
    expires_in: timedelta = timedelta(days=3),
    channel: str = "ussd",
) -> RunSnapshot:
    """A run started at T0 + ``start``, one answer a minute; the respondent is per run."""
    started = T0 + start
    steps = {
        key: (value, i + 1, started + timedelta(minutes=i + 1))
        for i, (key, value) in enumerate(given.items())
    }
    end = started + timedelta(minutes=len(given))
    return RunSnapshot(
        run_id=run_id,
        respondent_id=pseudonymise(number or _number(run_id), "test-secret"),
        flow=flow,
        flow_version=1,
        channel=channel,
        language="fr",
        status=status,  # type: ignore[arg-type]
        started_at=started,
        updated_at=end,
        expires_at=started + expires_in,
        completed_at=end if status != "active" else None,
        answers=steps,
    )


def _number(run_id: str) -> str:
    # A made-up Malian mobile number per run, so each household is its own respondent.
    return f"+22376{zlib.crc32(run_id.encode()) % 1_000_000:06d}"


def add(session: Session, households: Iterable[dict[str, str]], *, prefix: str = "hh") -> list[str]:
    """Store completed households, an hour apart from T0; return their run ids in order."""
    ids = []
    for i, given in enumerate(households):
        run_id = f"{prefix}-{i:04d}"
        sync_submission(session, snapshot(run_id, given, start=timedelta(hours=i)))
        ids.append(run_id)
    session.commit()
    return ids


def _forty() -> list[dict[str, str]]:
    intentions = ["return"] * 20 + ["stay"] * 11 + ["undecided"] * 6 + ["relocate"] * 3
    needs = (
        [("food", "food")] * 12  # cited twice: counts once
        + [("food", "shelter")] * 10
        + [("wash", "none")] * 8
        + [("health", "shelter")] * 6
        + [("education", "food")] * 4
    )
    current = ["bamako"] * 22 + ["mopti"] * 10 + ["segou"] * 5 + ["gao"] * 3
    size = {"bamako": 6, "mopti": 5, "segou": 8, "gao": 7}
    origin = ["mopti"] * 15 + ["gao"] * 10 + ["tombouctou"] * 9 + ["menaka"] * 6
    return [
        answers(current[i], origin[i], size[current[i]], intentions[i], *needs[i])
        for i in range(40)
    ]


# Intention: return 20 (50.0%), stay 11 (27.5%), undecided 6 (hidden: complementary),
#   relocate 3 (<5).
# Needs: food 12+10+4 = 26 (65.0%), shelter 10+6 = 16 (40.0%), wash 8 (20.0%),
#   health 6 (15.0%), education 4 (<5), the other needs 0 (<5).
# Current region: bamako 22 (55.0%, 132 people), mopti 10 (25.0%, 50), segou 5 (12.5%, 40),
#   gao 3 (<5, 21 people hidden); 243 people in all.
# Origin region: mopti 15 (37.5%; households 0-14, all in bamako: 90 people),
#   gao 10 (25.0%; 7 in bamako, 3 in mopti: 57), tombouctou 9 (22.5%; 7 mopti, 2 segou: 51),
#   menaka 6 (15.0%; 3 segou, 3 gao: 45).
FORTY = _forty()

MALI = (
    [answers("bamako", "mopti", 5, "return", "food", "shelter")] * 69
    + [answers("mopti", "gao", 7, "stay", "shelter", "none")] * 28
    + [answers("segou", "tombouctou", 4, "relocate", "food", "none")] * 2
    + [answers("segou", "kidal", 3, "undecided", "wash", "food")]
)


def campaign(session: Session, campaign_id: str, run_ids: Sequence[str | None]) -> None:
    """A campaign whose contacts led to these runs (None: a contact who never answered)."""
    session.add(
        Campaign(
            id=campaign_id,
            name=f"Campaign {campaign_id}",
            flow=FLOW,
            channel=CampaignChannel.SMS,
            window_start=time(8, 0),
            window_end=time(20, 0),
            timezone="Africa/Bamako",
            throttle=1.0,
            reminder_count=0,
            reminder_interval_hours=24,
            expiry_hours=72,
            created_by="cli",
        )
    )
    session.flush()
    for i, run_id in enumerate(run_ids):
        session.add(
            CampaignContact(
                campaign_id=campaign_id,
                row_number=i + 2,
                respondent_id=f"{campaign_id}-contact-{i}",
                phone_encrypted="not-a-real-ciphertext",
                phone_masked="+22376****00",
                run_id=run_id,
            )
        )
    session.commit()
