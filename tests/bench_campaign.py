"""Rows 4 and 5 of ``make bench``: an SMS campaign's Redis cost per household, and its pace.

The gateway runs as ``make run`` starts it, sending through a local stand-in for Africa's
Talking (``tests.at_server``). Staff's steps are the CLI's: ``survey-gateway campaign create``
with a list of numbers at the highest throttle, then ``campaign start``. Once every invitation
has reached AT, some households answer two questions by SMS (posted as AT posts them), so that
runs carry answers and reminders have been set again after an answer. Then:

4. Redis's ``used_memory`` grown since just before the start, per household invited, with the
   keys' ``MEMORY USAGE`` summed by kind to show where it goes; and the reminders waiting per
   run: members of sorted sets, or RQ jobs, named for reminders;
5. the invitations' rate at AT's door, from the first to the last, against the throttle.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import redis
import requests

from tests.at_server import FakeATServer
from tests.bench_campaigns import bench_number, write_audience
from tests.bench_processes import Gateway
from tests.bench_rows import Row
from tests.bench_wrk import ANSWERS
from tests.windows import open_window

BYTES_GOAL = 1024
THROTTLE = 50.0  # the highest a campaign allows
REMINDERS = 2
# Households that answer by SMS, and how many questions each answers.
ANSWERING_SHARE = 0.05
ANSWERED_QUESTIONS = 2
SETTLE_S = 3.0
SCAN_BATCH = 1000


@dataclass(frozen=True)
class CampaignFigures:
    numbers: int
    invited: int  # invitations AT received
    fan_out_s: float  # from the first invitation at AT to the last
    answering: int
    memory_before: int
    memory_after: int
    by_kind: list[tuple[str, int, int]]  # key kind, keys, bytes (MEMORY USAGE)
    reminders: int

    @property
    def bytes_per_household(self) -> float:
        return (self.memory_after - self.memory_before) / self.numbers

    @property
    def rate(self) -> float:
        return (self.invited - 1) / self.fan_out_s if self.fan_out_s > 0 else 0.0


def measure(numbers: int) -> CampaignFigures:
    """Run the campaign through the gateway and the fake AT; read Redis at the end."""
    with FakeATServer() as at:
        gateway = Gateway(
            "campaign",
            extra_env={
                "AT_USERNAME": "bench",
                "AT_API_KEY": "bench-key",
                "GATEWAY_AT_API_URL": at.url,
            },
        )
        try:
            gateway.start("run")
            gateway.wait_healthy()
            return _campaign(gateway, at, numbers)
        finally:
            gateway.stop()


def _campaign(gateway: Gateway, at: FakeATServer, numbers: int) -> CampaignFigures:
    ident = _create(gateway, numbers)
    client = gateway.redis()
    time.sleep(SETTLE_S)
    before = _used_memory(client)
    began = time.monotonic()
    _cli(gateway, "campaign", "start", ident)
    invited, fan_out_s = _wait_invited(at, numbers, began)
    answering = max(1, int(numbers * ANSWERING_SHARE))
    _answer_by_sms(gateway, at, answering, invited)
    time.sleep(SETTLE_S)
    return CampaignFigures(
        numbers=numbers,
        invited=invited,
        fan_out_s=fan_out_s,
        answering=answering,
        memory_before=before,
        memory_after=_used_memory(client),
        by_kind=memory_by_kind(client),
        reminders=pending_reminders(client),
    )


def _cli(gateway: Gateway, *args: str) -> str:
    """Run ``survey-gateway <args>`` on the gateway's folder; its output."""
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        env=gateway.env(),
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"survey-gateway {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def _create(gateway: Gateway, numbers: int) -> str:
    """Create the campaign with its list, as staff would; its short id."""
    audience = write_audience(gateway.root / "audience.csv", numbers)
    window = open_window()
    began = time.monotonic()
    output = _cli(
        gateway,
        *("campaign", "create", "--name", "bench", "--flow", "return_intention"),
        *("--channel", "sms", "--audience", str(audience), "--throttle", f"{THROTTLE:g}"),
        *("--window", window.window, "--timezone", window.timezone),
        *("--reminders", str(REMINDERS)),
    )
    found = re.search(r"Campaign (\S+) created", output)
    if found is None:
        raise RuntimeError(f"no campaign id in: {output[:500]}")
    print(f"  {numbers} numbers imported in {time.monotonic() - began:.0f} s", flush=True)
    return found.group(1)


def _wait_invited(at: FakeATServer, numbers: int, began: float) -> tuple[int, float]:
    """Wait for every invitation at AT; how many came, and the seconds first to last."""
    # Generous: a machine sending at a fifth of the throttle still finishes.
    deadline = began + numbers / (THROTTLE / 5) + 120
    while _recipients(at) < numbers and time.monotonic() < deadline:
        time.sleep(0.5)
    arrivals = [r.received_at for r in at.requests for _ in r.form.get("to", "").split(",")]
    invited = len(arrivals)
    seconds = arrivals[-1] - arrivals[0] if invited > 1 else 0.0
    print(
        f"  {invited} of {numbers} invitations reached AT, the first "
        f"{arrivals[0] - began if arrivals else 0:.1f} s after `campaign start`, the last "
        f"{seconds:.1f} s after the first",
        flush=True,
    )
    return invited, seconds


def _recipients(at: FakeATServer) -> int:
    return sum(len(r.form.get("to", "").split(",")) for r in at.requests)


def _answer_by_sms(gateway: Gateway, at: FakeATServer, households: int, invited: int) -> None:
    """Households reply to their questions by SMS, as AT posts inbound messages."""
    expected = invited + households * ANSWERED_QUESTIONS
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda i: _household_replies(gateway.base_url, i), range(households)))
    deadline = time.monotonic() + 120 + households * ANSWERED_QUESTIONS / 20
    while _recipients(at) < expected and time.monotonic() < deadline:
        time.sleep(0.5)
    print(
        f"  {households} households answered {ANSWERED_QUESTIONS} questions by SMS; "
        f"{_recipients(at) - invited} of {expected - invited} next questions reached AT",
        flush=True,
    )


def _household_replies(base_url: str, index: int) -> None:
    with requests.Session() as http:
        for answer in ANSWERS[:ANSWERED_QUESTIONS]:
            form = {
                "from": bench_number(index),
                "to": "38412",
                "text": answer,
                "id": f"ATXid_bench{uuid.uuid4().hex}",
                "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                "linkId": "",
            }
            response = http.post(f"{base_url}/sms/inbound", data=form, timeout=30)
            response.raise_for_status()


def _used_memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


def memory_by_kind(client: redis.Redis) -> list[tuple[str, int, int]]:
    """Every key's MEMORY USAGE, summed by kind (ids blanked out), biggest first."""
    keys: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    batch: list[bytes] = []

    def flush() -> None:
        pipe = client.pipeline(transaction=False)
        for key in batch:
            pipe.memory_usage(key)
        for key, size in zip(batch, pipe.execute(), strict=True):
            kind = key_kind(key.decode(errors="replace"))
            keys[kind] += 1
            sizes[kind] += size or 0
        batch.clear()

    for key in client.scan_iter(count=SCAN_BATCH):
        batch.append(key)
        if len(batch) >= SCAN_BATCH:
            flush()
    flush()
    return [(kind, keys[kind], size) for kind, size in sizes.most_common()]


_IDS = re.compile(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}|[0-9a-f]{16,}|\d+|[A-Za-z0-9_]{24,}")


def key_kind(key: str) -> str:
    """A key with its ids replaced by ``*``: ``sg:run:<uuid>`` becomes ``sg:run:*``."""
    return _IDS.sub("*", key)


def pending_reminders(client: redis.Redis) -> int:
    """Reminders waiting: members of sorted sets named for reminders, or naming them.

    Covers RQ's scheduled jobs (``rq:scheduled:<queue>``, jobs ``remind-<run>-...``) and a
    sorted set of due reminders, whatever the gateway uses.
    """
    total = 0
    for key in client.scan_iter(count=SCAN_BATCH, _type="zset"):
        name = key.decode(errors="replace")
        if "remind" in name:
            total += int(client.zcard(key))
        elif name.startswith("rq:scheduled:"):
            total += sum(1 for member, _ in client.zscan_iter(key) if b"remind" in member)
    return total


def rows(figures: CampaignFigures) -> list[Row]:
    """Rows 4 (bytes, reminders) and 5 (fan-out rate)."""
    _print_memory(figures)
    per_run = figures.reminders / figures.invited if figures.invited else 0.0
    all_invited = figures.invited >= figures.numbers
    short = "" if all_invited else f" (only {figures.invited} of {figures.numbers} invited)"
    return [
        Row(
            f"Redis bytes per SMS household ({figures.numbers:,}-number campaign)",
            f"{figures.bytes_per_household:,.0f} bytes{short}",
            f"<= {BYTES_GOAL:,} bytes",
            all_invited and figures.bytes_per_household <= BYTES_GOAL,
        ),
        Row(
            "reminders pending per run",
            f"{per_run:.2f} ({figures.reminders:,} for {figures.invited:,} runs)",
            "1 per run",
            # None would mean the bench could not find them, not that they cost nothing.
            0.99 <= per_run <= 1.0,
        ),
        Row(
            "fan-out rate at AT vs the campaign's throttle",
            f"{figures.rate:.1f}/s vs {THROTTLE:g}/s{short}",
            f"{THROTTLE * 0.9:g}-{THROTTLE * 1.1:g}/s",
            all_invited and THROTTLE * 0.9 <= figures.rate <= THROTTLE * 1.1,
        ),
    ]


def _print_memory(figures: CampaignFigures) -> None:
    grown = figures.memory_after - figures.memory_before
    print(
        f"  Redis used_memory {figures.memory_before / 2**20:.1f} MB before the start, "
        f"{figures.memory_after / 2**20:.1f} MB after ({grown / figures.numbers:,.0f} bytes "
        f"per household; {figures.answering} of them answered {ANSWERED_QUESTIONS} questions); "
        f"{figures.reminders} reminders pending. Biggest kinds of keys (MEMORY USAGE):",
        flush=True,
    )
    for kind, count, size in figures.by_kind[:10]:
        print(
            f"    {kind:<48} {count:>7} keys {size / 2**20:8.2f} MB "
            f"{size / figures.numbers:8.0f} bytes per household"
        )
