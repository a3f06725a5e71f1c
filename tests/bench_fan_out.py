"""Campaign fan-out benchmark: 100,000 invitations, bounded memory, workers killed midway.

What a big campaign does in production, end to end: a list of 100,000 numbers is imported, the
campaign is started, and real ``survey-gateway worker`` processes (RQ workers, each with RQ's
scheduler as a child process) invite everyone over SMS through the real AT SDK, against a local
HTTP server answering as AT does. Halfway, every worker is killed with SIGKILL (children too: no
chance to tidy up) and new ones are started. At the end it checks, from what the fake AT received:

- **nothing lost**: every number got its invitation, except any whose send the kill cut short,
  which must be marked ``unknown`` for a check (AT may or may not have it);
- **nothing duplicated**: no number got two;
- **bounded memory**: the workers' peak resident memory stays under a budget that does not
  grow with the list, and barely grows from the first tenth of the campaign to the end;
- **the throttle**: invitations go out at no more than the campaign's rate.

    python -m tests.bench_fan_out [--contacts 100000] [--workers 3] [--throttle 50]
                                  [--database-url postgresql://...]

Without ``--database-url``, SQLite in a temporary folder; Redis is embedded. At the highest
throttle a campaign allows (50 a second), 100,000 numbers take about 35 minutes.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from redis import Redis
from sqlalchemy import func, select

from gateway.campaigns.audience import csv_rows, import_audience
from gateway.campaigns.definition import CampaignSpec, create_campaign
from gateway.campaigns.lifecycle import start_campaign
from gateway.campaigns.models import Campaign, CampaignContact, CampaignStatus, ContactStatus
from gateway.campaigns.queue import CampaignJobs
from gateway.core.db import upgrade
from gateway.core.redis_client import start_embedded, url_of
from gateway.core.runtime import Runtime
from gateway.core.settings import Settings
from gateway.messaging.models import Message, MessageStatus
from gateway.staff.audit import CLI_ACTOR
from tests.at_server import FakeATServer
from tests.bench_campaigns import write_audience
from tests.windows import open_window

# Peak resident memory of one worker process (the RQ worker or its scheduler), in MB. A Python
# process with this project's libraries loaded takes well under half of it; a worker holding
# anything per contact would pass it long before 100,000.
RSS_BUDGET_MB = 250
# How much a worker's peak may grow from the first tenth of the campaign to its end, in MB.
RSS_GROWTH_BUDGET_MB = 25
SAMPLE_EVERY_S = 0.5
RATE_WINDOW_S = 10
# Longer than the whole run: the sending window must not close on it.
RUN_AT_MOST = timedelta(hours=4)


@dataclass
class Sampler:
    """Samples the workers' memory, Redis's, and the invitations received, in a thread."""

    server: FakeATServer
    redis: Redis
    pids: list[int] = field(default_factory=list)
    peak_rss: dict[str, float] = field(default_factory=lambda: {"worker": 0.0, "child": 0.0})
    early_peak_rss: dict[str, float] = field(default_factory=dict)
    peak_redis_mb: float = 0.0
    received: list[tuple[float, int]] = field(default_factory=list)  # (time, count) samples
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY_S):
            self.sample()

    def sample(self) -> None:
        for pid in list(self.pids):
            self._note("worker", rss_mb(pid))
            for child in children_of(pid):
                self._note("child", rss_mb(child))
        used = int(self.redis.info("memory")["used_memory"])
        self.peak_redis_mb = max(self.peak_redis_mb, used / 1024 / 1024)
        self.received.append((time.monotonic(), self.server.received_count))

    def _note(self, kind: str, mb: float) -> None:
        self.peak_rss[kind] = max(self.peak_rss[kind], mb)

    def mark_early(self) -> None:
        """Remember the peaks so far: the growth from here on is measured."""
        self.early_peak_rss = dict(self.peak_rss)

    def stop(self) -> None:
        self._stop.set()

    def max_rate(self) -> float:
        """The most invitations received in any RATE_WINDOW_S seconds, per second."""
        best = 0.0
        start = 0
        for t_end, n_end in self.received:
            while self.received[start][0] < t_end - RATE_WINDOW_S:
                start += 1
            t_start, n_start = self.received[start]
            if t_end - t_start >= RATE_WINDOW_S * 0.9:
                best = max(best, (n_end - n_start) / (t_end - t_start))
        return best


def rss_mb(pid: int) -> float:
    """A process's resident memory in MB (0 if it has gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children_of(pid: int) -> list[int]:
    """A process's child processes (an RQ worker's scheduler)."""
    try:
        tasks = Path(f"/proc/{pid}/task").iterdir()
        return [
            int(child)
            for task in tasks
            for child in (task / "children").read_text().split()
            if child.isdigit()
        ]
    except OSError:
        return []


def start_worker(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """A real ``survey-gateway worker``, in its own process group so killpg reaches its children."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "worker"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            process_group=0,
        )


def kill_hard(workers: list[subprocess.Popen[bytes]]) -> None:
    """SIGKILL every worker and its children, as a power cut or the OOM killer would."""
    for worker in workers:
        try:
            os.killpg(worker.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        worker.wait()


def stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


@dataclass(frozen=True)
class Outcome:
    contacts: Counter[str]
    messages: Counter[str]
    received_once: int
    duplicated: int
    unknown_received: int
    lost: int


def outcome(rt: Runtime, campaign_id: str, server: FakeATServer) -> Outcome:
    """What became of every contact, from the database and from what AT received."""
    per_number = Counter(request.form["to"] for request in server.requests)
    with rt.sessions() as session:
        contacts = Counter(
            str(status)
            for (status,) in session.execute(
                select(CampaignContact.status).where(CampaignContact.campaign_id == campaign_id)
            )
        )
        by_status = session.execute(select(Message.status, func.count()).group_by(Message.status))
        messages = Counter({str(status): count for status, count in by_status})
        unknown = [
            rt.cipher.decrypt(token)
            for (token,) in session.execute(
                select(Message.to_encrypted).where(Message.status == MessageStatus.UNKNOWN)
            )
        ]
    invited = sum(contacts.values())
    unknown_received = sum(1 for number in unknown if number in per_number)
    unknown_missing = len(unknown) - unknown_received
    return Outcome(
        contacts=contacts,
        messages=messages,
        received_once=sum(1 for n in per_number.values() if n == 1),
        duplicated=sum(1 for n in per_number.values() if n > 1),
        unknown_received=unknown_received,
        lost=invited - len(per_number) - unknown_missing,
    )


def campaign_done(rt: Runtime, campaign_id: str) -> bool:
    """Completed, and no message left waiting to be sent."""
    with rt.sessions() as session:
        status = session.scalar(select(Campaign.status).where(Campaign.id == campaign_id))
        waiting = session.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.status.in_((MessageStatus.QUEUED, MessageStatus.SENDING)))
        )
    return status is CampaignStatus.COMPLETED and waiting == 0


def main() -> int:
    """Run the campaign once; exit status 1 when a check fails."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--throttle", type=float, default=50.0)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--kill-at", type=float, default=0.5, help="share sent before the kill")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, FakeATServer() as server:
        var = Path(folder)
        url = args.database_url or f"sqlite:///{var / 'gateway.db'}"
        env = {"GATEWAY_VAR_DIR": str(var), "DATABASE_URL": url, "GATEWAY_LOG_LEVEL": "WARNING"}
        settings = Settings.from_env(env)
        upgrade(url)
        client = start_embedded(settings)
        rt = Runtime.build(settings, client=client)
        worker_env = {
            **os.environ,
            **env,
            "REDIS_URL": url_of(client),
            "AT_USERNAME": "bench",
            "AT_API_KEY": "bench-key",
            "GATEWAY_AT_API_URL": server.url,
        }
        sampler = Sampler(server, client)
        workers: list[subprocess.Popen[bytes]] = []
        try:
            ok = run_campaign(args, var, settings, rt, server, sampler, workers, worker_env)
        finally:
            sampler.stop()
            stop(workers)
            rt.engine.dispose()
            client.close()
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


def run_campaign(
    args: argparse.Namespace,
    var: Path,
    settings: Settings,
    rt: Runtime,
    server: FakeATServer,
    sampler: Sampler,
    workers: list[subprocess.Popen[bytes]],
    worker_env: dict[str, str],
) -> bool:
    n = args.contacts
    with rt.sessions() as session:
        if session.scalar(select(func.count()).select_from(Message)):
            print("the database already has messages: give an empty one, to count only ours")
            return False
    window = open_window(open_for=RUN_AT_MOST)
    spec = CampaignSpec(
        name="bench",
        flow=settings.ussd_flow,
        channel="sms",
        window=window.window,
        timezone=window.timezone,
        throttle=args.throttle,
    )
    started = time.monotonic()
    with rt.sessions.begin() as session:
        campaign = create_campaign(
            session, spec, rt.flows, ussd_flow=settings.ussd_flow, actor=CLI_ACTOR
        )
        campaign_id = campaign.id
        audience = write_audience(var / "audience.csv", n)
        with audience.open("rb") as stream:
            report = import_audience(session, rt, campaign, csv_rows(stream), actor=CLI_ACTOR)
    print(f"{report.accepted} numbers imported in {time.monotonic() - started:.0f} s")
    with rt.sessions.begin() as session:
        running = start_campaign(session, campaign_id, actor=CLI_ACTOR)
    CampaignJobs(rt.queue).after_change(running)

    log_path = var / "workers.log"
    workers += [start_worker(worker_env, log_path) for _ in range(args.workers)]
    sampler.pids = [w.pid for w in workers]
    threading.Thread(target=sampler.run, name="sampler", daemon=True).start()
    started = time.monotonic()
    # Generous: a slow machine may send well under the throttle.
    deadline = started + n / min(args.throttle, 10) + 900
    killed_at: float | None = None
    early_marked = False
    last_report = started
    while not campaign_done(rt, campaign_id):
        if time.monotonic() > deadline:
            print("timed out waiting for the campaign to complete")
            break
        time.sleep(2)
        received = server.received_count
        if not early_marked and received >= n / 10:
            sampler.mark_early()
            early_marked = True
        if killed_at is None and received >= n * args.kill_at:
            kill_hard(workers)
            killed_at = time.monotonic()
            print(f"{received} invitations received: every worker killed with SIGKILL")
            workers[:] = [start_worker(worker_env, log_path) for _ in range(args.workers)]
            sampler.pids = [w.pid for w in workers]
        if time.monotonic() - last_report >= 60:
            last_report = time.monotonic()
            print(
                f"  {time.monotonic() - started:5.0f} s: {received} received; peak RSS "
                f"worker {sampler.peak_rss['worker']:.0f} MB, "
                f"its children {sampler.peak_rss['child']:.0f} MB",
                flush=True,
            )
    seconds = time.monotonic() - started
    sampler.sample()
    result = outcome(rt, campaign_id, server)
    return report_outcome(args, result, sampler, seconds, killed_at, started, log_path)


def report_outcome(
    args: argparse.Namespace,
    result: Outcome,
    sampler: Sampler,
    seconds: float,
    killed_at: float | None,
    started: float,
    log_path: Path,
) -> bool:
    n = args.contacts
    peak = max(sampler.peak_rss.values())
    early = max(sampler.early_peak_rss.values(), default=0.0)
    rate = sampler.max_rate()
    print(f"campaign of {n} numbers completed in {seconds:.0f} s with {args.workers} workers")
    if killed_at is not None:
        print(f"workers killed at {killed_at - started:.0f} s and restarted")
    print(f"contacts: {dict(result.contacts)}")
    print(f"messages: {dict(result.messages)}")
    print(
        f"AT received: {result.received_once} numbers once, {result.duplicated} more than once; "
        f"{result.unknown_received} of the 'unknown' reached AT; lost: {result.lost}"
    )
    print(
        f"peak RSS: worker {sampler.peak_rss['worker']:.0f} MB, its children "
        f"{sampler.peak_rss['child']:.0f} MB (budget {RSS_BUDGET_MB} MB); "
        f"after the first tenth {early:.0f} MB (growth budget {RSS_GROWTH_BUDGET_MB} MB)"
    )
    print(f"Redis peak memory {sampler.peak_redis_mb:.0f} MB (runs, reminders, queues)")
    print(f"highest rate over {RATE_WINDOW_S} s: {rate:.1f} a second (throttle {args.throttle:g})")
    checks = {
        "every contact invited": result.contacts.get(ContactStatus.SENT.value, 0) == n,
        "nothing lost": result.lost == 0,
        "nothing duplicated": result.duplicated == 0,
        "memory under budget": peak < RSS_BUDGET_MB,
        "memory not growing": peak - early < RSS_GROWTH_BUDGET_MB,
        # A few grants' slack: the rate is measured at AT, a little after the limiter.
        "throttle kept": rate <= args.throttle * 1.1 + 1,
    }
    for name, passed in checks.items():
        print(f"  {'ok  ' if passed else 'FAIL'} {name}")
    if not all(checks.values()):
        print("the workers' log ends:")
        print("\n".join(log_path.read_text(errors="replace").splitlines()[-40:]))
    return all(checks.values())


if __name__ == "__main__":
    sys.exit(main())
