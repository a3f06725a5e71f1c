"""Job names are stored in Redis: each must keep resolving to the function a worker runs.

RQ keeps a queued, scheduled, retried or failed job as the dotted path of its function; a
worker imports that path when it runs the job. These tests resolve every name the way RQ does.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from rq.utils import import_attribute

from gateway.core import job_names

ROOT = Path(__file__).resolve().parents[2]

# Every path a released gateway has queued. Jobs under these may wait in Redis across an
# upgrade, so each must go on resolving, even after its function moves (keep an alias then).
STORED_PATHS = (
    "workers.jobs.sync_run",
    "workers.jobs.send_message",
    "workers.sms.send_reply",
    "workers.sms.remind",
    "workers.sms.erase_respondent",
    "workers.sms.offer_sms",
    "workers.sms.record_opt_out",
    "workers.delivery.record_delivery",
    "workers.campaigns.fan_out",
    "workers.campaigns.stop_reminders",
    "workers.campaigns.remind_invitation",
    "workers.campaign_imports.run_import",
    "workers.maintenance.daily_purge",
    "workers.maintenance.sweep_messages",
)


@pytest.mark.parametrize("name", job_names.ALL_JOBS)
def test_every_registered_job_name_resolves_to_a_callable(name: str) -> None:
    assert callable(import_attribute(name))


@pytest.mark.parametrize("path", STORED_PATHS)
def test_every_path_already_in_redis_still_resolves(path: str) -> None:
    assert callable(import_attribute(path))


def test_the_registry_lists_each_of_its_names_once() -> None:
    constants = {
        value for key, value in vars(job_names).items() if key.isupper() and isinstance(value, str)
    }
    assert sorted(job_names.ALL_JOBS) == sorted(constants)
    assert len(set(job_names.ALL_JOBS)) == len(job_names.ALL_JOBS)
    assert set(STORED_PATHS) <= set(job_names.ALL_JOBS)


def test_no_job_path_is_written_outside_the_registry() -> None:
    registry = ROOT / "gateway" / "core" / "job_names.py"
    found = []
    for folder in ("gateway", "workers", "handlers", "flows"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == registry:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Constant)
                    and isinstance(node.value, str)
                    and node.value in job_names.ALL_JOBS
                ):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value}")
    assert found == []
