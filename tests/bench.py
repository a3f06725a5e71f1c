"""Speed benchmark: ``make bench``, every figure of the speed issue against its goal.

Each part starts the gateway with the ``survey-gateway`` command in a fresh temporary var folder
(embedded Redis, SQLite), as an operator would, and measures it from outside only: HTTP posts
as Africa's Talking makes them, driven by ``wrk`` (a compiled client, so the figures are the
server's), the CLI, Redis INFO and MEMORY USAGE, and the database.

1. USSD steps/s at saturation against a bare Flask endpoint (``tests.bench_web``);
2. screen latency p50/p99 with 200 handsets pausing as people do (``tests.bench_web``);
3. answers stored per second by one worker draining a backlog (``tests.bench_storage``);
4. Redis bytes per household and pending reminders per run in an SMS campaign, and
5. the campaign's fan-out rate against its throttle (``tests.bench_campaign``).

It prints one table at the end and exits 1 when a figure misses its goal, 2 when wrk is
missing. ``--quick`` runs small sizes (about two minutes) to check the harness itself: its
figures are not the ones to publish.

    python -m tests.bench [--quick] [--households 2000] [--numbers 10000] [--only 1,2,3,4,5]
                          [--keep]
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable

from tests import bench_processes
from tests.bench_rows import Row, failed, table
from tests.bench_wrk import WrkMissing, require_wrk

# Full run, then --quick: seconds of each wrk run, households for the backlog, campaign size.
FULL = {"warm_up_s": 5.0, "saturation_s": 20.0, "field_s": 60.0, "households": 2000}
QUICK = {"warm_up_s": 2.0, "saturation_s": 5.0, "field_s": 12.0, "households": 160}
FULL_NUMBERS, QUICK_NUMBERS = 10_000, 500
# Each part gives several rows: asking for any of them runs the part.
PART_OF_ROW = {"1": "1", "2": "1", "3": "3", "4": "4", "5": "4"}


def main() -> int:
    """Run the parts asked for, print the table; 1 if a figure missed its goal."""
    args = _arguments()
    try:
        require_wrk()
    except WrkMissing as exc:
        print(exc, file=sys.stderr)
        return 2
    bench_processes.KEEP_FOLDERS = args.keep
    sizes = QUICK if args.quick else FULL
    households = args.households or int(sizes["households"])
    numbers = args.numbers or (QUICK_NUMBERS if args.quick else FULL_NUMBERS)
    parts: list[tuple[str, str, Callable[[], list[Row]]]] = [
        ("1", "USSD against the bare endpoint (rows 1 and 2)", lambda: _web(sizes)),
        ("3", f"answers stored by one worker, {households} households", lambda: _store(households)),
        ("4", f"SMS campaign of {numbers} numbers (rows 4 and 5)", lambda: _campaign(numbers)),
    ]
    asked = args.only.split(",") if args.only else list(PART_OF_ROW)
    wanted = {PART_OF_ROW.get(row.strip(), row) for row in asked}
    rows: list[Row] = []
    began = time.monotonic()
    for key, title, run in parts:
        if key in wanted:
            rows += _part(title, run)
    kind = "quick" if args.quick else "full"
    print(f"\nmake bench ({kind} sizes, {time.monotonic() - began:.0f} s)")
    print(table(rows))
    return 0 if all(row.ok for row in rows) else 1


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the bench")
    parser.add_argument("--households", type=int, help="backlog for row 3 (2000; quick 160)")
    parser.add_argument("--numbers", type=int, help="campaign size for rows 4-5 (10000)")
    parser.add_argument("--keep", action="store_true", help="keep the gateways' folders")
    parser.add_argument("--only", help="comma-separated rows to run, e.g. 1,2 or 3 or 4,5")
    return parser.parse_args()


def _part(title: str, run: Callable[[], list[Row]]) -> list[Row]:
    """Run one part; a part that breaks gives MISSED rows, and the others still run."""
    print(f"\n== {title}", flush=True)
    began = time.monotonic()
    try:
        rows = run()
    except Exception as exc:  # the table must still come out, naming what broke
        traceback.print_exc()
        rows = [failed(title, "see above", f"{type(exc).__name__}: {str(exc)[:80]}")]
    print(f"  ({time.monotonic() - began:.0f} s)", flush=True)
    return rows


def _web(sizes: dict[str, float]) -> list[Row]:
    from tests import bench_web

    web_sizes = bench_web.WebSizes(sizes["warm_up_s"], sizes["saturation_s"], sizes["field_s"])
    return bench_web.rows(bench_web.measure(web_sizes))


def _store(households: int) -> list[Row]:
    from tests import bench_storage

    return bench_storage.rows(bench_storage.measure(households))


def _campaign(numbers: int) -> list[Row]:
    from tests import bench_campaign

    return bench_campaign.rows(bench_campaign.measure(numbers))


if __name__ == "__main__":
    sys.exit(main())
