"""The version is written once, in pyproject.toml: the command line and the changelog follow."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from click.testing import CliRunner

from gateway.cli.main import cli
from gateway.core.version import gateway_version

ROOT = Path(__file__).resolve().parents[2]
SEMVER = re.compile(r"\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?")


def pyproject_version() -> str:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    return str(tomllib.loads(text)["project"]["version"])


def test_the_installed_version_is_pyprojects_and_semantic() -> None:
    # Differs after a version change until the package is reinstalled (make does it).
    assert gateway_version() == pyproject_version()
    assert SEMVER.fullmatch(gateway_version())


def test_the_command_prints_its_version() -> None:
    for flag in ("--version", "-V"):
        result = CliRunner().invoke(cli, [flag], prog_name="survey-gateway")

        assert result.exit_code == 0
        assert result.output == f"survey-gateway, version {pyproject_version()}\n"


def test_the_changelog_has_this_version_as_its_latest_release() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    releases = re.findall(r"^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$", changelog, re.M)

    assert releases[0][0] == "Unreleased"
    assert releases[1][0] == pyproject_version()
    assert all(SEMVER.fullmatch(name) and date for name, date in releases[1:])
