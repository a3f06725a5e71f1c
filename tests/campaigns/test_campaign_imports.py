"""A campaign's list is imported by a worker: the API answers 202 at once, the import is followed
to its report, it is safe to run twice, its upload waits encrypted and goes once imported."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from alembic import command
from cryptography.fernet import Fernet
from flask.testing import FlaskClient
from sqlalchemy import func, inspect, select, text, update

from gateway.campaigns.imports import run_import
from gateway.campaigns.models import (
    Campaign,
    CampaignContact,
    CampaignImport,
    CampaignImportPart,
    ImportStatus,
)
from gateway.campaigns.queue import CampaignJobs
from gateway.core.clock import utc_now
from gateway.core.crypto import NumberCipher
from gateway.core.db import alembic_config, make_engine, upgrade
from gateway.core.runtime import Runtime
from gateway.staff.audit import CLI_ACTOR
from gateway.staff.models import AuditEvent, Role
from gateway.staff.tokens import create_token
from gateway.surveys.retention import purge, rotate_keys

NUMBERS = [f"+2237{6000000 + i:07d}" for i in range(5)]
CSV = (
    "phone,language\n"
    + "".join(f"{n},fr\n" for n in NUMBERS)
    + "76 12,fr\n"  # row 7: not a number; its digits come back masked
    + f"{NUMBERS[0]},fr\n"  # row 8: listed twice
)
FIELDS = {"name": "Gao, juin", "flow": "return_intention", "channel": "sms"}


def manager(runtime: Runtime) -> dict[str, str]:
    """Bearer header of a manager token."""
    with runtime.sessions.begin() as session:
        secret = create_token(session, name="ops", role=Role.MANAGER, actor=CLI_ACTOR).secret
    return {"Authorization": f"Bearer {secret}"}


def post_csv(
    client: FlaskClient, headers: dict[str, str], csv_bytes: bytes, path: str = "/api/v1/campaigns"
) -> Any:
    """Post a CSV list as a multipart form, with the campaign fields when creating."""
    form: dict[str, Any] = dict(FIELDS) if path == "/api/v1/campaigns" else {}
    form["audience"] = (io.BytesIO(csv_bytes), "liste.csv")
    return client.post(path, data=form, headers=headers, content_type="multipart/form-data")


def count(runtime: Runtime, model: Any) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def audited(runtime: Runtime, action: str) -> list[str]:
    """The details of the audit rows of ``action``."""
    with runtime.sessions() as session:
        rows = session.scalars(select(AuditEvent.detail).where(AuditEvent.action == action))
        return [row or "" for row in rows]


def test_the_api_answers_202_and_the_import_goes_from_queued_to_done_once_a_worker_runs(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    headers = manager(runtime)

    created = post_csv(client, headers, CSV.encode())

    assert created.status_code == 202, created.get_json()
    location = created.headers["Location"]
    queued = client.get(location, headers=headers).get_json()
    assert (queued["status"], queued["rows_read"], queued["accepted"]) == ("queued", 0, 0)
    assert count(runtime, CampaignContact) == 0
    # The list waits encrypted: no number of it is in the stored upload.
    with runtime.sessions() as session:
        stored = "".join(session.scalars(select(CampaignImportPart.data)))
    assert stored and not any(n[1:] in stored for n in NUMBERS)

    run_jobs()

    done = client.get(location, headers=headers).get_json()
    assert done["status"] == "done" and done["finished_at"] is not None
    assert (done["rows_read"], done["accepted"], done["duplicates"], done["opted_out"]) == (
        7,
        5,
        1,
        0,
    )
    assert (done["invalid_count"], done["invalid"]) == (
        1,
        [{"row_number": 7, "reason": "not a phone number (**12)"}],
    )
    assert count(runtime, CampaignContact) == 5
    assert count(runtime, CampaignImportPart) == 0  # the upload is gone once imported
    assert len(audited(runtime, "campaign.create")) == 1
    assert audited(runtime, "campaign.import") == [
        "rows=7 accepted=5 duplicates=1 opted_out=0 invalid=1"
    ]


def test_more_contacts_are_added_through_a_job_and_numbers_already_there_are_duplicates(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    headers = manager(runtime)
    campaign_id = post_csv(client, headers, CSV.encode()).get_json()["campaign"]["id"]
    run_jobs()
    more = "telephone\n" + "".join(f"{n}\n" for n in NUMBERS[3:]) + "+22376000099\n"

    added = post_csv(client, headers, more.encode(), f"/api/v1/campaigns/{campaign_id}/imports")
    as_json = client.post(
        f"/api/v1/campaigns/{campaign_id}/imports",
        json={"contacts": [{"phone": "+22376000098"}]},
        headers=headers,
    )
    unknown = post_csv(client, headers, more.encode(), "/api/v1/campaigns/nope/imports")

    assert added.status_code == as_json.status_code == 202
    assert unknown.status_code == 404
    run_jobs()
    report = client.get(added.headers["Location"], headers=headers).get_json()
    assert (report["accepted"], report["duplicates"]) == (1, 2)
    assert client.get(as_json.headers["Location"], headers=headers).get_json()["accepted"] == 1
    assert count(runtime, CampaignContact) == 7
    elsewhere = added.headers["Location"].replace(campaign_id, as_json.get_json()["import"]["id"])
    assert client.get(elsewhere, headers=headers).status_code == 404


def test_bad_fields_or_a_list_without_a_phone_column_are_refused_at_once_and_create_nothing(
    client: FlaskClient, runtime: Runtime
) -> None:
    headers = manager(runtime)

    no_phone = post_csv(client, headers, b"name,region\nAwa,mopti\n")
    empty = post_csv(client, headers, b"")
    bad_window = client.post(
        "/api/v1/campaigns",
        json={**FIELDS, "window": "19:00-08:00", "contacts": [{"phone": NUMBERS[0]}]},
        headers=headers,
    )

    assert (no_phone.status_code, empty.status_code, bad_window.status_code) == (422, 422, 422)
    assert "no phone column" in no_phone.get_json()["message"]
    assert count(runtime, Campaign) == count(runtime, CampaignImport) == 0
    assert runtime.queue.count == 0


def test_a_list_unreadable_past_its_header_ends_the_import_failed_and_adds_nothing(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    headers = manager(runtime)
    broken = (
        f"phone\n{NUMBERS[0]}\n{NUMBERS[1]}\n".encode() + b"\x81\x8d\n"
    )  # neither UTF-8 nor Windows-1252

    created = post_csv(client, headers, broken)
    run_jobs()

    failed = client.get(created.headers["Location"], headers=headers).get_json()
    assert failed["status"] == "failed"
    assert "is not UTF-8 text: save the file as 'CSV UTF-8'" in failed["problem"]
    assert count(runtime, CampaignContact) == count(runtime, CampaignImportPart) == 0
    assert len(audited(runtime, "campaign.import_failed")) == 1


def test_starting_before_the_import_is_done_is_refused(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    headers = manager(runtime)
    campaign_id = post_csv(client, headers, CSV.encode()).get_json()["campaign"]["id"]

    early = client.post(f"/api/v1/campaigns/{campaign_id}/start", headers=headers)
    run_jobs()
    later = client.post(f"/api/v1/campaigns/{campaign_id}/start", headers=headers)

    assert early.status_code == 409
    assert early.get_json()["message"] == (
        "the list of campaign 'Gao, juin' is being imported: start it once the import is done"
    )
    assert later.status_code == 200 and later.get_json()["campaign"]["status"] == "running"


def test_an_import_run_twice_adds_each_contact_once(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    headers = manager(runtime)
    created = post_csv(client, headers, CSV.encode())
    import_id = created.get_json()["import"]["id"]
    CampaignJobs(runtime.queue).run_import(import_id)  # queued twice: it may run twice

    run_jobs()
    # A retry of the job after it succeeded (RQ retries a job whose worker died at the end).
    runtime.queue.enqueue("workers.campaign_imports.run_import", import_id)
    run_jobs()

    report = client.get(created.headers["Location"], headers=headers).get_json()
    assert (report["status"], report["accepted"], report["duplicates"]) == ("done", 5, 1)
    assert count(runtime, CampaignContact) == 5
    assert len(audited(runtime, "campaign.import")) == 1


def test_a_retry_after_a_worker_died_mid_import_adds_each_contact_once(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    headers = manager(runtime)
    created = post_csv(client, headers, CSV.encode())
    campaign_id = created.get_json()["campaign"]["id"]
    first = created.get_json()["import"]["id"]
    # The same list uploaded again, its import left "running" by a worker that died.
    again = post_csv(client, headers, CSV.encode(), f"/api/v1/campaigns/{campaign_id}/imports")
    with runtime.sessions.begin() as session:
        session.execute(
            update(CampaignImport)
            .where(CampaignImport.id == again.get_json()["import"]["id"])
            .values(status=ImportStatus.RUNNING, attempts=1)
        )

    run_jobs()

    assert count(runtime, CampaignContact) == 5
    retried = client.get(again.headers["Location"], headers=headers).get_json()
    assert (retried["status"], retried["accepted"], retried["duplicates"]) == ("done", 0, 6)
    with runtime.sessions() as session:
        attempts = session.scalar(
            select(CampaignImport.attempts).where(CampaignImport.id == retried["id"])
        )
        assert attempts == 2
        assert session.get(CampaignImport, first) is not None


def test_rotation_reencrypts_a_waiting_upload(client: FlaskClient, runtime: Runtime) -> None:
    headers = manager(runtime)
    created = post_csv(client, headers, CSV.encode())
    import_id = created.get_json()["import"]["id"]

    new_key = Fernet.generate_key().decode()
    with runtime.sessions.begin() as session:
        report = rotate_keys(
            session, runtime.store, NumberCipher([new_key, *runtime.settings.encryption_keys])
        )

    assert report.uploads == 1
    only_new = NumberCipher([new_key])  # the old key retired: a worker that has only the new one
    ended = run_import(dataclasses.replace(runtime, cipher=only_new), import_id)
    assert ended is not None and (ended.status, ended.accepted) == (ImportStatus.DONE, 5)


def test_an_upload_no_configured_key_opens_ends_the_import_failed_saying_why(
    client: FlaskClient, runtime: Runtime
) -> None:
    created = post_csv(client, manager(runtime), CSV.encode())
    import_id = created.get_json()["import"]["id"]

    # The old key was removed before `keys rotate` ran: no retry could ever read the list.
    stranger = NumberCipher([Fernet.generate_key().decode()])
    ended = run_import(dataclasses.replace(runtime, cipher=stranger), import_id)

    assert ended is not None and ended.status is ImportStatus.FAILED
    assert "cannot be decrypted with the keys configured" in (ended.problem or "")
    assert count(runtime, CampaignContact) == count(runtime, CampaignImportPart) == 0


def test_an_import_whose_job_was_lost_with_redis_is_queued_again_when_followed(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    headers = manager(runtime)
    created = post_csv(client, headers, CSV.encode())
    runtime.redis.flushdb()  # Redis lost, and the queued job with it

    waiting = client.get(created.headers["Location"], headers=headers).get_json()
    run_jobs()
    done = client.get(created.headers["Location"], headers=headers).get_json()

    assert waiting["status"] == "queued"
    assert (done["status"], done["accepted"]) == ("done", 5)
    assert runtime.queue.count == 0  # following a finished import queues nothing


def test_the_purge_removes_an_upload_left_waiting_more_than_a_day(
    client: FlaskClient, runtime: Runtime
) -> None:
    headers = manager(runtime)
    old = post_csv(client, headers, CSV.encode())
    recent = post_csv(client, headers, CSV.encode())
    with runtime.sessions.begin() as session:
        session.execute(
            update(CampaignImport)
            .where(CampaignImport.id == old.get_json()["import"]["id"])
            .values(created_at=utc_now() - timedelta(days=1, minutes=1))
        )

    with runtime.sessions.begin() as session:
        report = purge(session, utc_now(), 90)

    assert report.stale_uploads == 1
    assert "1 uploaded lists never imported" in report.lines()
    stale = client.get(old.headers["Location"], headers=headers).get_json()
    assert stale["status"] == "failed" and "did not finish within a day" in stale["problem"]
    waiting = client.get(recent.headers["Location"], headers=headers).get_json()
    assert waiting["status"] == "queued"
    with runtime.sessions() as session:
        left = set(session.scalars(select(CampaignImportPart.import_id)))
    assert left == {recent.get_json()["import"]["id"]}


def test_migration_0008_adds_the_import_tables_and_downgrades_without_them(
    database_url: str,
) -> None:
    upgrade(database_url, "0007")
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0008")
        assert {"campaign_imports", "campaign_import_parts"} <= set(
            inspect(engine).get_table_names()
        )
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO campaigns (id, name, flow, channel, status, window_start,"
                    " window_end, timezone, throttle, reminder_count, reminder_interval_hours,"
                    " expiry_hours, created_by, created_at) VALUES ('c1', 'n', 'f', 'sms',"
                    " 'draft', '08:00:00', '19:00:00', 'UTC', 1, 0, 1, 1, 'cli',"
                    " CURRENT_TIMESTAMP)"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO campaign_imports (id, campaign_id, status, format, created_by,"
                    " created_at, attempts, rows_read, accepted, duplicates, opted_out,"
                    " invalid_count) VALUES ('i1', 'c1', 'queued', 'csv', 'cli',"
                    " CURRENT_TIMESTAMP, 0, 0, 0, 0, 0, 0)"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO campaign_import_parts (import_id, seq, data) VALUES ('i1', 0, 'x')"
                )
            )

        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, "0007")

        tables = set(inspect(engine).get_table_names())
        assert not {"campaign_imports", "campaign_import_parts"} & tables
        with engine.connect() as connection:
            assert connection.execute(text("SELECT id FROM campaigns")).scalars().all() == ["c1"]
    finally:
        engine.dispose()
