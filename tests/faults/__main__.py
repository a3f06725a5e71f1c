"""``python -m tests.faults``: run the fault suite, print the results table, exit 1 on a FAIL.

    python -m tests.faults [--contacts 600] [--throttle 5] [--report FILE] [--keep]

``--report`` also writes the table to FILE; ``--keep`` keeps the temporary folder (logs,
database, AOF) for a look afterwards, and prints where it is.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

from tests.at_server import FakeATServer
from tests.faults.checks import Check, collect, table
from tests.faults.processes import Keeper, Processes
from tests.faults.records import Records
from tests.faults.scenario import Plan, Scenario
from tests.faults.topology import (
    Postgres,
    RedisServer,
    SetupError,
    gateway_env,
    wait_healthy,
)
from tests.faults.traffic import AtCallbacks, CallbackStats

RUN_BUDGET_S = 540.0  # the whole run, set-up to table: 9 minutes
# Longer than the sender's read timeout (10 s), so "slow" is a timeout for the worker.
AT_SILENT_S = 12.0
WORKERS = 2
# A submission may reach PostgreSQL late (a job retried after an outage): late is not lost.
STORED_WAIT_S = 120.0


def main() -> int:
    """Run the suite once; exit status 1 when a check fails, 2 when it could not run."""
    defaults = Plan()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=defaults.contacts)
    parser.add_argument("--throttle", type=float, default=defaults.throttle)
    parser.add_argument("--report", type=Path, help="also write the table to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    if args.contacts < 2 * defaults.opted_out or not 0 < args.throttle <= 50:
        parser.error(f"--contacts must be at least {2 * defaults.opted_out}, --throttle 0-50")
    plan = Plan(contacts=args.contacts, throttle=args.throttle)
    # SIGTERM (CI cancelling the job) takes the same way out as Ctrl-C: everything is stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    # Started in the background by a shell, Python would inherit SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    started = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="sg-faults-"))
    # PostgreSQL runs as another user when we are root: it must reach its folder inside.
    folder.chmod(0o755)
    processes = Processes()
    try:
        rows = run(plan, folder, processes, deadline=started + RUN_BUDGET_S)
    except SetupError as exc:
        print(f"fault suite could not run: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fault suite interrupted: every process it started is stopped", file=sys.stderr)
        return 130
    finally:
        processes.stop_all()
        if args.keep:
            print(f"kept: {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    text = table(rows)
    failed = [r for r in rows if r.failed]
    summary = f"{len(failed)} of {len(rows)} checks failed" if failed else "all checks passed"
    print(f"\n{text}\n\n{summary} in {time.monotonic() - started:.0f} s")
    if args.report:
        args.report.write_text(text + "\n")
    return 1 if failed else 0


def run(plan: Plan, folder: Path, processes: Processes, deadline: float) -> list[Check]:
    """Start the topology, run the scenario, gather the checks; stop what it started."""
    redis = RedisServer(processes, folder / "redis")
    postgres = Postgres(folder / "pg")
    say(f"PostgreSQL on port {postgres.port}, redis-server on port {redis.port}")
    keepers: list[Keeper] = []
    try:
        postgres.create()
        redis.start()
        with FakeATServer(slow_seconds=AT_SILENT_S) as at:
            var_dir = folder / "var"
            var_dir.mkdir()
            gateway = gateway_env(var_dir, redis.url, postgres.url, at.url)
            records = Records(postgres.url, gateway.secret_key)
            try:
                keepers = [
                    Keeper(f"worker-{i}", processes, [*gateway.cli, "worker"], gateway.env,
                           var_dir / f"worker-{i}.log").start()
                    for i in range(WORKERS)
                ]  # fmt: skip
                _wait_migrated(records)
                processes.start([*gateway.cli, "serve"], gateway.env, var_dir / "web.log")
                wait_healthy(gateway)
                say(f"gateway up; {plan.contacts} numbers at {plan.throttle:g}/s")
                stats = CallbackStats()
                scenario = Scenario(
                    plan, folder, gateway, at, redis, postgres, keepers, records,
                    AtCallbacks(gateway, stats), deadline, say,
                )  # fmt: skip
                scenario.run()
                confirmed = scenario.households.confirmed
                stored = _wait_stored(records, confirmed, deadline)
                observed = scenario.observed
                ids = [c.campaign_id for c in (observed.campaign, observed.second) if c]
                states = {i: records.campaign(i) for i in ids}
                campaigns = {i: (str(s[0]), s[1]) if s else None for i, s in states.items()}
                exits = (sum(k.exits for k in keepers), sum(k.kills for k in keepers))
                dials = (scenario.households.redials, scenario.households.gave_up)
                return collect(
                    observed, at.requests, confirmed, stored, dials, stats, exits, campaigns
                )
            finally:
                for keeper in keepers:
                    keeper.stop()
                records.close()
                processes.stop_all()
    finally:
        postgres.stop("immediate")


def say(line: str) -> None:
    """A progress line, stamped with the time."""
    print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)


def _wait_migrated(records: Records) -> None:
    deadline = time.monotonic() + 90
    while not records.migrated():
        if time.monotonic() > deadline:
            raise SetupError("the workers did not migrate the database within 90 s")
        time.sleep(0.5)


def _wait_stored(records: Records, confirmed: list[str], deadline: float) -> set[str] | None:
    """The confirmed households stored completed, once the workers caught up (bounded)."""
    until = min(time.monotonic() + STORED_WAIT_S, deadline)
    while True:
        stored = records.completed(confirmed)
        if stored is not None and len(stored) >= len(set(confirmed)):
            return stored
        if time.monotonic() >= until:
            return stored
        time.sleep(1.0)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
