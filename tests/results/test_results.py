"""Submissions page by page: every row once, in order, by pseudonym, however pages are cut."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from gateway.results.selection import (
    EmptyPeriod,
    SubmissionFilter,
    UnreadableDate,
    parse_filter,
    parse_moment,
)
from gateway.results.submissions import (
    SubmissionPage,
    decode_cursor,
    encode_cursor,
    list_submissions,
)
from gateway.surveys.persistence import sync_submission
from tests.households import FORTY, T0, add, answers, campaign, snapshot

NOW = T0 + timedelta(days=2)
HOUSEHOLD = answers("bamako", "mopti", 6, "return", "food", "shelter")


def every_page(session: Session, per_page: int, **options: object) -> list[SubmissionPage]:
    pages = [list_submissions(session, NOW, per_page=per_page, **options)]  # type: ignore[arg-type]
    while pages[-1].next_cursor is not None:
        cursor = pages[-1].next_cursor
        pages.append(
            list_submissions(session, NOW, per_page=per_page, cursor=cursor, **options)  # type: ignore[arg-type]
        )
    return pages


def test_pages_cover_every_submission_once_oldest_first(db_session: Session) -> None:
    ids = add(db_session, FORTY[:7])
    pages = every_page(db_session, 3, flow="return_intention")

    assert [len(page.items) for page in pages] == [3, 3, 1]
    assert [item.id for page in pages for item in page.items] == ids
    assert all(page.total == 7 and page.per_page == 3 for page in pages)
    assert pages[-1].next_cursor is None


def test_an_item_is_json_ready_with_answers_as_codes(db_session: Session) -> None:
    add(db_session, [HOUSEHOLD])
    item = list_submissions(db_session, NOW, flow="return_intention").items[0]
    data = json.loads(json.dumps(item.as_dict()))

    assert data == {
        "id": "hh-0000",
        "respondent": item.respondent,
        "flow": "return_intention",
        "flow_version": 1,
        "channel": "ussd",
        "enumerator": None,
        "language": "fr",
        "status": "completed",
        "started_at": "2025-03-01T09:00:00Z",
        "completed_at": "2025-03-01T09:08:00Z",  # eight answers, one a minute
        "answers": HOUSEHOLD,
    }
    assert list(data["answers"]) == list(HOUSEHOLD)  # in the order they were given
    assert len(item.respondent) == 64 and not item.respondent.startswith("+")


def test_statuses_are_shown_as_in_the_export(db_session: Session) -> None:
    stale = snapshot(
        "stale-0001", {"consent": "yes"}, status="active", expires_in=timedelta(hours=1)
    )
    live = snapshot("live-0001", {"consent": "yes"}, status="active", start=timedelta(days=1))
    declined = snapshot("no-0001", {"consent": "no"}, status="declined", start=timedelta(hours=1))
    for run in (stale, live, declined):
        sync_submission(db_session, run)
    db_session.commit()

    items = list_submissions(db_session, NOW, flow="return_intention").items
    assert [(item.id, item.status) for item in items] == [
        ("stale-0001", "expired"),  # abandoned: its expiry passed before NOW
        ("no-0001", "declined"),
        ("live-0001", "started"),
    ]
    assert items[0].completed_at is None
    assert items[1].completed_at == "2025-03-01T10:01:00Z"


def test_a_status_as_listings_show_it(db_session: Session) -> None:
    stale = snapshot(
        "stale-0001", {"consent": "yes"}, status="active", expires_in=timedelta(hours=1)
    )
    live = snapshot("live-0001", {"consent": "yes"}, status="active", start=timedelta(days=1))
    for run in (stale, live):
        sync_submission(db_session, run)
    add(db_session, [HOUSEHOLD])
    db_session.commit()

    def ids(status: str) -> list[str]:
        selection = parse_filter(status=status, as_of=NOW)
        page = list_submissions(db_session, NOW, selection=selection)
        return [item.id for item in page.items]

    assert ids("expired") == ["stale-0001"]
    assert ids("started") == ["live-0001"]
    assert ids("completed") == ["hh-0000"]
    assert ids("declined") == []
    with pytest.raises(ValueError, match="status"):
        parse_filter(status="lost")


def test_days_as_french_readers_write_them_only_where_asked() -> None:
    march = parse_filter("1/03/2025", "31.03.2025", day_first=True)
    assert march.since == datetime(2025, 3, 1, tzinfo=UTC)
    assert march.until == datetime(2025, 4, 1, tzinfo=UTC)
    assert parse_moment("2025-03-31", day_first=True) == datetime(2025, 3, 31, tzinfo=UTC)
    with pytest.raises(UnreadableDate) as refused:
        parse_moment("31/03/2025")  # the API and the CLI keep to ISO 8601
    assert refused.value.text == "31/03/2025"
    for bad in ("31/02/2025", "32/01/2025", "03/31/2025", "1/3/25"):
        with pytest.raises(UnreadableDate):
            parse_moment(bad, day_first=True)
    with pytest.raises(EmptyPeriod):
        parse_filter("31/03/2025", "01/03/2025", day_first=True)


def test_submissions_arriving_while_paging_are_neither_repeated_nor_skipped(
    db_session: Session,
) -> None:
    ids = add(db_session, FORTY[:4])
    first = list_submissions(db_session, NOW, flow="return_intention", per_page=2)
    later = snapshot("late-0001", HOUSEHOLD, start=timedelta(hours=10))
    sync_submission(db_session, later)
    db_session.commit()
    rest = every_page(db_session, 2, flow="return_intention")
    second = list_submissions(
        db_session, NOW, flow="return_intention", per_page=2, cursor=first.next_cursor
    )
    assert [item.id for item in first.items] == ids[:2]
    assert [item.id for item in second.items] == ids[2:4]
    assert [item.id for page in rest for item in page.items] == [*ids, "late-0001"]


def test_runs_started_at_the_same_moment_are_paged_by_id(db_session: Session) -> None:
    for run_id in ("same-0003", "same-0001", "same-0002"):
        sync_submission(db_session, snapshot(run_id, {"consent": "yes"}))
    db_session.commit()
    pages = every_page(db_session, 1, flow="return_intention")
    assert [page.items[0].id for page in pages] == ["same-0001", "same-0002", "same-0003"]


def test_per_flow_and_per_campaign(db_session: Session) -> None:
    ids = add(db_session, FORTY[:5])
    sync_submission(db_session, snapshot("other-0001", {"x": "1"}, flow="other_flow"))
    db_session.commit()
    campaign(db_session, "camp-5", [ids[1], ids[3], None])

    assert list_submissions(db_session, NOW, flow="return_intention").total == 5
    assert list_submissions(db_session, NOW, flow="other_flow").total == 1
    reached = list_submissions(db_session, NOW, selection=SubmissionFilter(campaign_id="camp-5"))
    assert [item.id for item in reached.items] == [ids[1], ids[3]]
    assert reached.total == 2
    period = SubmissionFilter(since=T0 + timedelta(hours=2), until=T0 + timedelta(hours=4))
    in_period = list_submissions(db_session, NOW, flow="return_intention", selection=period)
    assert [item.id for item in in_period.items] == ids[2:4]


def test_bad_cursors_and_page_sizes_are_refused(db_session: Session) -> None:
    for cursor in ("nonsense", "", "MjAyNQ", "!!!"):
        with pytest.raises(ValueError, match="cursor"):
            list_submissions(db_session, NOW, cursor=cursor)
    for per_page in (0, 101):
        with pytest.raises(ValueError, match="per_page"):
            list_submissions(db_session, NOW, per_page=per_page)
    assert list_submissions(db_session, NOW, per_page=100).items == ()


def test_a_cursor_reads_back() -> None:
    add_time = T0 + timedelta(microseconds=123456)
    assert decode_cursor(encode_cursor(add_time, "hh-0001")) == (add_time, "hh-0001")
