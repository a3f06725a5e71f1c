"""The README's API example runs as written: the token it makes can do every call it shows.

The commands are read from README.md itself, so an example that drifts from what the API
allows (a viewer's token asked to approve an enumerator) fails here.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from gateway.core.runtime import Runtime
from gateway.enumerators.models import Enumerator, EnumeratorStatus
from tests.accounts.test_staff_operations import Surfaces, surfaces  # noqa: F401 (fixture)
from tests.enumerators.test_enumerators import register

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## Staff accounts and the API"


def example() -> tuple[list[str], list[tuple[str, str]]]:
    """The `tokens create` arguments and the (method, path) of each curl call the section shows."""
    section = README.read_text(encoding="utf-8").split(SECTION, 1)[1].split("\n## ", 1)[0]
    lines = section.splitlines()
    create = next(line for line in lines if "survey-gateway tokens create" in line)
    arguments = shlex.split(create.split("survey-gateway", 1)[1], comments=True)
    calls = []
    for line in lines:
        if not line.startswith("curl "):
            continue
        words = shlex.split(line)
        method = words[words.index("-X") + 1] if "-X" in words else "GET"
        url = next(word for word in words if "localhost:8000" in word)
        calls.append((method, url.split("localhost:8000", 1)[1]))
    return arguments, calls


def test_the_readme_token_does_every_call_the_readme_shows(
    surfaces: Surfaces,  # noqa: F811
    runtime: Runtime,
    run_jobs: Callable[..., int],
) -> None:
    register(runtime, run_jobs)
    with runtime.sessions() as session:
        enumerator = session.scalars(select(Enumerator)).one()
    arguments, calls = example()
    assert calls, "the README shows no API call"

    made = surfaces.cli(*arguments)
    assert made.exit_code == 0, made.output
    secret = made.output.strip().splitlines()[-1]

    client = surfaces.app.test_client()
    for method, path in calls:
        response = client.open(
            path.replace("ID", enumerator.id),
            method=method,
            headers={"Authorization": f"Bearer {secret}"},
        )
        assert response.status_code == 200, (method, path, response.get_data(as_text=True))

    with runtime.sessions() as session:
        assert session.get_one(Enumerator, enumerator.id).status is EnumeratorStatus.APPROVED
