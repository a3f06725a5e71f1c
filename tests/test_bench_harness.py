"""The ``make bench`` harness itself: its handsets, its table, its reading of Redis keys.

The speed goals live in the bench, not here: these tests only check that the harness counts
what it claims to count.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.bench_bare import SURVEY_ANSWERS
from tests.bench_campaign import key_kind
from tests.bench_processes import BareEndpoint
from tests.bench_rows import Row, table
from tests.bench_wrk import ANSWERS, Load, drive

needs_wrk = pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")


@pytest.fixture(scope="module")
def bare() -> Iterator[BareEndpoint]:
    endpoint = BareEndpoint(workers=2)
    endpoint.start()
    yield endpoint
    endpoint.stop()


def test_the_bare_endpoint_ends_the_survey_where_the_bench_does() -> None:
    assert SURVEY_ANSWERS == len(ANSWERS)


@needs_wrk
def test_each_handset_answers_its_surveys_to_the_last_screen(bare: BareEndpoint) -> None:
    result = drive(bare.base_url, Load(handsets=3, seconds=60, surveys=4))

    assert result.completed == 12
    assert result.requests == 12 * (len(ANSWERS) + 1)
    assert result.errors == 0


@needs_wrk
def test_pausing_handsets_answer_without_errors(bare: BareEndpoint) -> None:
    result = drive(bare.base_url, Load(handsets=4, seconds=2, think_ms=100))

    assert result.requests > 0
    assert result.errors == 0


@needs_wrk
def test_a_wrong_screen_is_counted_and_shown(bare: BareEndpoint) -> None:
    # Two answers where the bare endpoint asks eight: its third screen is CON, not END.
    result = drive(bare.base_url, Load(handsets=1, seconds=60, surveys=2, answers=("1", "2")))

    assert result.completed == 0
    assert result.bad == 2
    assert result.sample == "200 at step 2: CON Question 3"


def test_the_table_says_which_goal_was_missed() -> None:
    rows = [Row("fast", "10/s", ">= 5/s", True), Row("small", "2 KB", "<= 1 KB", False)]

    lines = table(rows).splitlines()

    assert lines[1].split() == ["fast", "10/s", ">=", "5/s", "OK"]
    assert lines[2].split() == ["small", "2", "KB", "<=", "1", "KB", "MISSED"]


def test_keys_are_grouped_with_their_ids_blanked() -> None:
    assert key_kind("sg:run:509394f9-47b8-41ba-82b3-779c04e1f99e") == "sg:run:*"
    assert key_kind("rq:job:remind-509394f9-47b8-41ba-82b3-779c04e1f99e-3-1") == (
        "rq:job:remind-*-*-*"
    )
    assert key_kind("sg:active:return_intention:3f9a0c1d2e4b5a6978c0d1e2f3a4b5c6") == (
        "sg:active:return_intention:*"
    )
