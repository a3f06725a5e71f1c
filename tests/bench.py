"""USSD latency benchmark: ``make bench``.

Starts the gateway as ``make run`` does (gunicorn web + RQ worker, embedded Redis, SQLite) in
a temporary folder, then has simulated households take the whole survey at the same time over
HTTP, exactly as Africa's Talking posts. It reports how long each USSD screen took (what a
person on a handset waits for) and checks that every submission reached the database.

    python -m tests.bench [--households 200] [--concurrency 20]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

# consent, current region, origin region, household size, intention (stay), obstacle, needs.
ANSWERS = ["1", "11", "5", "6", "2", "1", "1", "3"]
BUDGET_MS = 500
SOLO_HOUSEHOLDS = 20  # far under AT's few seconds, leaving the telco and the radio their share


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def household(base: str, number: int) -> list[float]:
    """One household takes the whole survey; returns each screen's time in milliseconds."""
    session_id = f"bench-{uuid.uuid4().hex}"
    phone = f"+2237{number:07d}"
    timings: list[float] = []
    typed: list[str] = []
    with requests.Session() as http:
        for answer in ["", *ANSWERS]:
            if answer:
                typed.append(answer)
            form = {
                "sessionId": session_id,
                "serviceCode": "*384*123#",
                "phoneNumber": phone,
                "networkCode": "61001",
                "text": "*".join(typed),
            }
            began = time.perf_counter()
            response = http.post(f"{base}/ussd", data=form, timeout=10)
            timings.append((time.perf_counter() - began) * 1000)
            if response.status_code != 200 or not response.text.startswith(("CON ", "END ")):
                raise RuntimeError(f"bad screen {response.status_code}: {response.text[:80]}")
        if not response.text.startswith("END Merci"):
            raise RuntimeError(f"survey did not complete: {response.text[:80]}")
    return timings


def percentile(values: list[float], share: float) -> float:
    """The value below which ``share`` of ``values`` fall."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> int:
    """Run the benchmark and print the report; exit 1 if it misses the budget or loses data."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()

    var_dir = Path(tempfile.mkdtemp(prefix="sg-bench-")) / "var"
    port = free_port()
    # Quiet logs: the benchmark measures the gateway, not the terminal.
    env = {
        **os.environ,
        "GATEWAY_VAR_DIR": str(var_dir),
        "PORT": str(port),
        "GATEWAY_LOG_LEVEL": "WARNING",
    }
    for name in ("REDIS_URL", "DATABASE_URL", "AT_USERNAME", "AT_API_KEY"):
        env.pop(name, None)
    cli = [sys.executable, "-m", "gateway.cli"]
    server = subprocess.Popen([*cli, "run"], env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base)
        # One household at a time first: what one person waits for, with nothing queued ahead.
        alone = [t for n in range(SOLO_HOUSEHOLDS) for t in household(base, 9_000_000 + n)]
        print(f"one household at a time ({SOLO_HOUSEHOLDS} households):")
        _report(alone, None)
        print(f"\n{args.households} households, {args.concurrency} at a time, against {base}")
        began = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            results = list(pool.map(lambda n: household(base, n), range(args.households)))
        elapsed = time.perf_counter() - began
        timings = [t for r in results for t in r]
        stored = _wait_stored(cli, env, args.households + SOLO_HOUSEHOLDS)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()

    p99 = _report(timings, elapsed)
    expected = args.households + SOLO_HOUSEHOLDS
    print(f"submissions stored: {stored} of {expected}")
    ok = p99 <= BUDGET_MS and stored == expected
    print("OK" if ok else f"FAILED: p99 must stay under {BUDGET_MS} ms and nothing may be lost")
    return 0 if ok else 1


def _report(timings: list[float], elapsed: float | None) -> float:
    """Print the latency figures; returns the 99th percentile."""
    p50, p95, p99 = (percentile(timings, s) for s in (0.50, 0.95, 0.99))
    if elapsed is not None:
        rate = len(timings) / elapsed
        print(f"screens: {len(timings)} in {elapsed:.1f} s ({rate:.0f} per second)")
    print(
        f"latency ms: mean {statistics.mean(timings):.1f}  p50 {p50:.1f}  p95 {p95:.1f}  "
        f"p99 {p99:.1f}  max {max(timings):.1f}"
    )
    return p99


def _wait_healthy(base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    raise RuntimeError("the gateway did not become healthy within 60 s")


def _wait_stored(cli: list[str], env: dict[str, str], expected: int) -> int:
    """Completed submissions in the export, once the worker has caught up (or 120 s passed)."""
    deadline = time.monotonic() + 120
    count = 0
    while time.monotonic() < deadline:
        export = subprocess.run(
            [*cli, "export", "--flow", "return_intention"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        count = sum(1 for line in export.stdout.splitlines()[1:] if ",completed," in line)
        if count >= expected:
            break
        time.sleep(1)
    return count


if __name__ == "__main__":
    sys.exit(main())
