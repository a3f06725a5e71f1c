"""The shipped deployment files are valid for the programs that read them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.processes.test_cli import REPO

SYSTEMD = REPO / "deploy" / "systemd"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd is not installed")
def test_the_systemd_units_are_valid(tmp_path: Path) -> None:
    units = sorted(SYSTEMD.glob("*.service")) + sorted(SYSTEMD.glob("*.timer"))
    # The template as systemd instantiates it (survey-gateway-worker@1.service).
    copies = []
    for unit in units:
        copy = tmp_path / unit.name.replace("@.", "@1.")
        shutil.copy(unit, copy)
        copies.append(str(copy))

    checked = subprocess.run(["systemd-analyze", "verify", *copies], capture_output=True, text=True)

    # The gateway is not installed in /opt on this machine: the only complaint allowed.
    problems = [
        line
        for line in (checked.stdout + checked.stderr).splitlines()
        if line.strip()
        and "/opt/survey-gateway/venv/bin/survey-gateway is not executable" not in line
    ]
    assert len(units) == 4
    assert problems == []


def test_the_procfile_runs_the_same_commands_as_the_units() -> None:
    procfile = dict(
        line.split(": ", 1) for line in (REPO / "Procfile").read_text().splitlines() if line
    )
    units = {
        "web": (SYSTEMD / "survey-gateway-web.service").read_text(),
        "worker": (SYSTEMD / "survey-gateway-worker@.service").read_text(),
    }

    for name, unit in units.items():
        assert f"ExecStart=/opt/survey-gateway/venv/bin/{procfile[name]}\n" in unit
