"""The scenario: an SMS campaign and USSD households, through four faults, then a Redis wipe.

1. Some numbers of the campaign's list text STOP; their confirmations are awaited.
2. The campaign is made and started through the CLI, as staff would; households answer the
   USSD survey, numbers text HELP and AT reports deliveries meanwhile.
3. One after another, each once sending has resumed after the last (or the wait for it ran
   out), and a pause: a worker is SIGKILLed (its keeper restarts it),
   redis-server is SIGKILLed and restarted from its AOF, PostgreSQL is stopped for a while,
   AT fails (HTTP 500, then dropped connections, then no answer until the client times out).
4. Once the campaign is over, Redis is wiped (FLUSHALL), the opted-out numbers text HELP, and
   a second small campaign is sent to a list holding them again: a STOP must outlive Redis.

Every wait is bounded by the run's deadline, so a gateway that stalls makes checks fail
instead of the run hanging.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis
import requests
import rq
from rq.exceptions import NoSuchJobError

from tests.at_server import FakeATServer
from tests.faults.processes import Keeper
from tests.faults.records import Records
from tests.faults.topology import Gateway, Postgres, RedisServer, SetupError
from tests.faults.traffic import AtCallbacks, DeliveryReports, Households, Texters
from tests.windows import open_window

STOP_TEXT = "STOP"
STOP_CONFIRMATION = "Merci. Vous ne recevrez plus"
CLI_TIMEOUT_S = 90.0
FAN_OUT = "fan_out"  # the job inviting a campaign's contacts, workers.campaigns.fan_out
FIND_SENDER_S = 10.0


@dataclass(frozen=True, slots=True)
class Plan:
    """How big the run is and how the faults are spaced (seconds)."""

    contacts: int = 600
    opted_out: int = 20
    throttle: float = 5.0
    households: int = 20
    second_contacts: int = 20
    first_fault_after_s: float = 15.0
    # After a fault, the next waits until the campaign's sending resumed, then ``pause_s``,
    # so each fault is measured on its own; but no longer than ``resume_wait_s`` (over the
    # resume bound, so a gateway that has not resumed by then fails rather than being held up).
    resume_wait_s: float = 45.0
    pause_s: float = 10.0
    redis_down_s: float = 3.0
    postgres_down_s: float = 20.0
    at_fail_each_s: float = 7.0  # HTTP 500, then drops, then no answer: three times this
    load_after_faults_s: float = 20.0


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault: when it began and ended (``time.monotonic()``)."""

    name: str
    started: float
    ended: float
    campaign_pending: bool  # the campaign still had invitations to send when it ended


@dataclass(frozen=True, slots=True)
class SentCampaign:
    """A campaign of the run: its id, its list and its throttle."""

    campaign_id: str
    numbers: frozenset[str]
    throttle: float
    started: float


@dataclass
class Observed:
    """Everything the checks look at, filled in as the scenario goes."""

    opted_out: frozenset[str] = frozenset()
    faults: list[Fault] = field(default_factory=list)
    campaign: SentCampaign | None = None
    second: SentCampaign | None = None
    wiped_at: float | None = None
    campaign_done: bool = False
    second_done: bool = False


def campaign_number(i: int) -> str:
    """The ``i``-th number of the first campaign's list."""
    return f"+2237{6000000 + i:07d}"


def fresh_number(i: int) -> str:
    """The ``i``-th new number of the second campaign's list."""
    return f"+2237{9000000 + i:07d}"


class Scenario:
    """Runs the plan against a started topology, recording what happened in ``observed``."""

    def __init__(
        self,
        plan: Plan,
        folder: Path,
        gateway: Gateway,
        at: FakeATServer,
        redis: RedisServer,
        postgres: Postgres,
        keepers: list[Keeper],
        records: Records,
        callbacks: AtCallbacks,
        deadline: float,
        say: Callable[[str], None],
    ) -> None:
        self.plan = plan
        self.observed = Observed()
        self.households = Households(callbacks, lines=plan.households)
        self.texters = Texters(callbacks)
        self.reports = DeliveryReports(callbacks, at)
        self._folder = folder
        self._gateway = gateway
        self._at = at
        self._redis = redis
        self._postgres = postgres
        self._keepers = keepers
        self._records = records
        self._callbacks = callbacks
        self._deadline = deadline
        self._say = say

    def run(self) -> None:
        """The whole scenario; returns early (checks then fail) if the deadline comes."""
        plan = self.plan
        numbers = [campaign_number(i) for i in range(plan.contacts)]
        opted_out = numbers[: plan.opted_out]
        self._opt_out(opted_out)
        self.observed.opted_out = frozenset(opted_out)
        first = self._create("faults-campaign", numbers, plan.throttle)
        self.households.start()
        self.texters.start()
        self.reports.start()
        try:
            self.observed.campaign = self._start(first, numbers, plan.throttle)
            self._faults(self.observed.campaign.started)
            self._sleep(plan.load_after_faults_s)
        finally:
            self.households.stop()
            self.texters.stop()
            self.reports.stop()
        self.observed.campaign_done = self._wait(
            lambda: self._records.campaign_done(first), "the campaign to complete", reserve=150
        )
        self._wipe_and_resend(opted_out)

    def _opt_out(self, numbers: list[str]) -> None:
        stop = threading.Event()
        with requests.Session() as http:
            for number in numbers:
                self._callbacks.sms(http, number, STOP_TEXT, stop)

        def confirmed() -> bool:
            got = {
                r.form.get("to")
                for r in self._at.requests
                if r.form.get("message", "").startswith(STOP_CONFIRMATION)
            }
            return set(numbers) <= got

        self._wait(confirmed, "the STOP confirmations", at_most=60)

    def _faults(self, t0: float) -> None:
        plan = self.plan
        self._sleep_until(t0 + plan.first_fault_after_s)
        keeper, busy = self._sending_keeper()
        self._say(f"fault: SIGKILL one worker ({busy})")
        began = time.monotonic()
        keeper.kill()
        self._record("worker SIGKILLed", began)

        self._settle()
        self._say("fault: SIGKILL redis-server, restart it from its AOF")
        began = time.monotonic()
        self._redis.kill()
        self._sleep(plan.redis_down_s)
        self._redis.start()
        self._record("Redis killed, restarted", began)

        self._settle()
        self._say(f"fault: PostgreSQL stopped for {plan.postgres_down_s:.0f} s")
        began = time.monotonic()
        self._postgres.stop()
        self._sleep(plan.postgres_down_s)
        self._postgres.start()
        self._record("PostgreSQL stopped", began)

        self._settle()
        self._say(f"fault: AT failing for {3 * plan.at_fail_each_s:.0f} s")
        began = time.monotonic()
        for answer in ("http_500", "drop", "slow"):
            self._at.respond_with(answer)
            self._sleep(plan.at_fail_each_s)
        self._at.respond_with("sent")
        self._record("AT failing", began)

    def _sending_keeper(self) -> tuple[Keeper, str]:
        """The keeper whose worker runs the campaign's fan-out (looked for a few seconds)."""
        deadline = time.monotonic() + FIND_SENDER_S
        while time.monotonic() < deadline:
            try:
                for worker in rq.Worker.all(connection=self._redis.client()):
                    job = worker.get_current_job()
                    if job is None or FAN_OUT not in (job.func_name or ""):
                        continue
                    for keeper in self._keepers:
                        if keeper.pid == worker.pid:
                            return keeper, "the one sending the campaign"
            except (redis.RedisError, NoSuchJobError):
                pass  # the job ended as we looked: look again
            time.sleep(0.2)
        return self._keepers[0], "no worker was seen sending: the first"

    def _settle(self) -> None:
        """Wait for the campaign to send again after the last fault (bounded), then pause."""
        ended = self.observed.faults[-1].ended
        numbers = self.observed.campaign.numbers if self.observed.campaign else frozenset()

        def resumed() -> bool:
            return (
                any(
                    r.answer == "sent" and r.received_at >= ended and r.form.get("to") in numbers
                    for r in self._at.requests
                )
                or not self.observed.faults[-1].campaign_pending
            )

        self._wait(resumed, "sending to resume", at_most=self.plan.resume_wait_s, every=0.5)
        self._sleep(self.plan.pause_s)

    def _record(self, name: str, began: float) -> None:
        ended = time.monotonic()
        campaign = self.observed.campaign
        pending = campaign is None or not self._records.campaign_done(campaign.campaign_id)
        self.observed.faults.append(Fault(name, began, ended, pending))

    def _wipe_and_resend(self, opted_out: list[str]) -> None:
        self._say("Redis wiped (FLUSHALL); a second campaign includes the opted-out numbers")
        self.observed.wiped_at = time.monotonic()
        self._redis.client().flushall()
        # An opted-out number texting again gets nothing back (no help text): silence until START.
        stop = threading.Event()
        with requests.Session() as http:
            for number in opted_out:
                self._callbacks.sms(http, number, "AIDE", stop)
        fresh = [fresh_number(i) for i in range(self.plan.second_contacts)]
        numbers = [*opted_out, *fresh]
        second = self._create("faults-after-wipe", numbers, 10.0)
        self.observed.second = self._start(second, numbers, 10.0)
        self.observed.second_done = self._wait(
            lambda: self._records.campaign_done(second), "the second campaign", reserve=60
        )

    def _create(self, name: str, numbers: list[str], throttle: float) -> str:
        """``campaign create`` through the CLI; returns the campaign's full id."""
        audience = self._folder / f"{name}.csv"
        audience.write_text("phone,language\n" + "".join(f"{n},fr\n" for n in numbers))
        window = open_window()
        out = self._cli(
            "campaign", "create", "--name", name, "--flow", "return_intention",
            "--channel", "sms", "--audience", str(audience), "--throttle", f"{throttle:g}",
            "--window", window.window, "--timezone", window.timezone,
        )  # fmt: skip
        match = re.search(r"Campaign (\w+) created", out)
        full = self._records.campaign_id(match.group(1)) if match else None
        if full is None:
            raise SetupError(f"campaign create did not make a campaign: {out[-300:]}")
        return full

    def _start(self, campaign_id: str, numbers: list[str], throttle: float) -> SentCampaign:
        self._cli("campaign", "start", campaign_id[:8])
        self._say(f"campaign {campaign_id[:8]} started: {len(numbers)} numbers at {throttle:g}/s")
        return SentCampaign(campaign_id, frozenset(numbers), throttle, time.monotonic())

    def _cli(self, *args: str) -> str:
        done = subprocess.run(
            [*self._gateway.cli, *args],
            env=self._gateway.env,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
        )
        if done.returncode != 0:
            raise SetupError(f"survey-gateway {args[0]} {args[1]} failed: {done.stderr[-300:]}")
        return done.stdout

    def _wait(
        self,
        ready: Callable[[], bool],
        what: str,
        *,
        at_most: float = 600,
        reserve: float = 0,
        every: float = 1.0,
    ) -> bool:
        """Poll ``ready`` until true, ``at_most`` seconds or the deadline less ``reserve``."""
        until = min(time.monotonic() + at_most, self._deadline - reserve)
        while True:
            if ready():
                return True
            if time.monotonic() >= until:
                self._say(f"gave up waiting for {what}")
                return False
            time.sleep(every)

    def _sleep_until(self, moment: float) -> None:
        self._sleep(moment - time.monotonic())

    def _sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, min(seconds, self._deadline - time.monotonic())))
