"""Campaign list import benchmark: 100,000 numbers in bounded memory.

Imports a CSV list of 100,000 numbers into a new campaign as an upload does: the list is stored
encrypted (what the web request does), then imported by the job's function, with tracemalloc
watching both: it reports the time and the peak memory each took, and fails when a peak reaches
50 MB (the upload is stored and read back a piece of 256 KB at a time, and the import holds one
chunk of 1,000 rows at a time, whatever the length of the list). The test suite runs the same
import on short lists, since tracemalloc slows Python down several times over.

    python -m tests.bench_campaigns [--rows 100000] [--database-url postgresql://...]

Without ``--database-url``, a SQLite database in a temporary folder; Redis is embedded.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from gateway.campaigns.definition import CampaignSpec, create_campaign
from gateway.campaigns.imports import queue_upload, run_import
from gateway.campaigns.models import Campaign, ImportStatus
from gateway.core.db import upgrade
from gateway.core.redis_client import start_embedded
from gateway.core.runtime import Runtime
from gateway.core.settings import Settings
from gateway.staff.audit import CLI_ACTOR

PEAK_BUDGET_MB = 50


def bench_number(i: int) -> str:
    """The ``i``-th number of a bench audience (Malian mobile numbers, all distinct)."""
    return f"+2237{6000000 + i:07d}"


def write_audience(path: Path, rows: int) -> Path:
    """Write a CSV audience of ``rows`` distinct numbers, as staff would upload it."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("phone,language,region\n")
        for i in range(rows):
            out.write(f"{bench_number(i)},fr,Mopti\n")
    return path


def main() -> int:
    """Run the import once; exit status 1 when the peak memory is over budget."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        var = Path(folder)
        url = args.database_url or f"sqlite:///{var / 'gateway.db'}"
        settings = Settings.from_env({"GATEWAY_VAR_DIR": str(var), "DATABASE_URL": url})
        upgrade(url)
        client = start_embedded(settings)
        rt = Runtime.build(settings, client=client)
        try:
            path = write_audience(var / "audience.csv", args.rows)
            spec = CampaignSpec(name="bench", flow=settings.ussd_flow, channel="sms")
            with rt.sessions.begin() as session:
                campaign_id = create_campaign(
                    session, spec, rt.flows, ussd_flow=settings.ussd_flow, actor=CLI_ACTOR
                ).id
            tracemalloc.start()
            started = time.perf_counter()
            with rt.sessions.begin() as session, path.open("rb") as stream:
                campaign = session.get(Campaign, campaign_id)
                assert campaign is not None
                import_id = queue_upload(session, rt.cipher, campaign, stream, actor=CLI_ACTOR).id
            stored_seconds = time.perf_counter() - started
            _, stored_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            started = time.perf_counter()
            report = run_import(rt, import_id)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            seconds = time.perf_counter() - started
            assert report is not None and report.status is ImportStatus.DONE
        finally:
            rt.engine.dispose()
            client.close()
    peak_mb = max(peak, stored_peak) / 1024 / 1024
    print(
        f"upload stored encrypted in {stored_seconds:.1f} s (peak {stored_peak / 2**20:.1f} MB); "
        f"{report.accepted} of {args.rows} rows imported in {seconds:.1f} s "
        f"(under tracemalloc); peak memory {peak / 2**20:.1f} MB (budget {PEAK_BUDGET_MB} MB)"
    )
    ok = report.accepted == args.rows and peak_mb < PEAK_BUDGET_MB
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
