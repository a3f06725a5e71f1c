"""Browser tests: Playwright driving the machine's own Chromium (never a downloaded browser).

Without Chromium at CHROMIUM (``apt-get install chromium``), or without Playwright, these tests
are skipped with the reason, except in CI (``CI=true``), where that is a broken setup and fails.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Long enough for a slow CI machine; a page of ours that takes this long is a bug anyway.
TIMEOUT_MS = 10_000


# Why the browser tests were skipped, for the summary at the end of the run.
_skipped_because: list[str] = []


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser tests cannot run in CI: {reason}", pytrace=False)
    _skipped_because.append(reason)
    pytest.skip(f"browser tests skipped: {reason}")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say it plainly at the end: the run's summary lists no skip reasons (-rfE)."""
    if _skipped_because:
        terminalreporter.write_line(
            f"BROWSER TESTS SKIPPED: {_skipped_because[0]}", yellow=True, bold=True
        )


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Chromium, headless, for the whole run."""
    if not Path(CHROMIUM).exists():
        _unavailable(f"no Chromium at {CHROMIUM} (install it: apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser tab (own cookies); a script error on any page fails the test."""
    context = browser.new_context(locale="fr-FR")
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield tab
    finally:
        context.close()
    assert not errors, f"script errors on the page: {errors}"
