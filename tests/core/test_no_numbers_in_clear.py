"""No phone number in clear anywhere the gateway writes: database, Redis, jobs, logs, outbox.

A whole SMS campaign runs end to end (a CSV list, start, invitations, answers, STOP, EFFACER,
and a USSD household beside it); then every table, every Redis key and value (RQ job payloads
decompressed), every log record and the console sender's output are searched for each number
in every form it could be written: E.164, without the plus, and the 8 national digits.
"""

from __future__ import annotations

import io
import logging
import zlib
from collections.abc import Callable

import pytest
import redis
from flask.testing import FlaskClient
from sqlalchemy import select

from gateway.core.models import Base
from gateway.core.runtime import Runtime
from gateway.staff.models import Role
from gateway.staff.tokens import create_token
from gateway.surveys.live_records import RUN_DICTIONARY
from tests.phone import FULL_SURVEY_RETURN, Phone, SmsPhone
from tests.windows import open_window

AUDIENCE = [f"+2237654{3000 + i:04d}" for i in range(20)]
USSD_HOUSEHOLD = "+22376549999"
SMS_SURVEY = ["1", "11", "5", "6", "1", "2", "1", "3"]


def forms_of(number: str) -> list[str]:
    """+22376543000, 22376543000 and 76543000."""
    return [number, number.lstrip("+"), number[-8:]]


def csv_cell(i: int, number: str) -> str:
    """The list as people type numbers: E.164, 00-prefixed, spaced national digits."""
    national = number[-8:]
    return [number, "00" + number[1:], " ".join(national[j : j + 2] for j in range(0, 8, 2))][i % 3]


def database_text(runtime: Runtime) -> str:
    """Every row of every table, as text; bytes read as Latin-1 so nothing is lost."""
    lines = []
    with runtime.sessions() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)).all():
                cells = [
                    v.decode("latin-1") if isinstance(v, bytes | bytearray | memoryview) else str(v)
                    for v in (bytes(c) if isinstance(c, memoryview) else c for c in row)
                ]
                lines.append(f"{table.name}: {' | '.join(cells)}")
    return "\n".join(lines)


def _readable(value: bytes) -> str:
    text = value.decode("latin-1")
    try:  # RQ keeps a job's function and arguments as a zlib-compressed pickle; runs are
        # compressed against a dictionary (which a stream without one ignores)
        reader = zlib.decompressobj(zdict=RUN_DICTIONARY)
        text += "\n" + (reader.decompress(value) + reader.flush()).decode("latin-1")
    except zlib.error:
        pass
    return text


def redis_text(client: redis.Redis) -> str:
    """Every key and every value, whatever the type."""
    lines = []
    for key in client.scan_iter(count=1000):
        kind = client.type(key).decode()
        values: list[bytes] = []
        if kind == "string":
            values = [client.get(key) or b""]
        elif kind == "hash":
            for field, value in client.hgetall(key).items():
                values += [field, value]
        elif kind == "list":
            values = list(client.lrange(key, 0, -1))
        elif kind == "set":
            values = list(client.smembers(key))
        elif kind == "zset":
            values = [member for member, _ in client.zrange(key, 0, -1, withscores=True)]
        elif kind == "stream":
            for entry_id, fields in client.xrange(key):
                values.append(entry_id)
                for field, value in fields.items():
                    values += [field, value]
        lines.append(f"{key.decode('latin-1')} ({kind}): " + " ".join(map(_readable, values)))
    return "\n".join(lines)


def test_a_whole_campaign_leaves_no_number_in_clear(
    client: FlaskClient,
    runtime: Runtime,
    run_jobs: Callable[..., int],
    outbox_stream: io.StringIO,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with runtime.sessions.begin() as session:
        secret = create_token(session, name="ops", role=Role.MANAGER, actor="cli").secret
    manager = {"Authorization": f"Bearer {secret}"}
    csv_text = "telephone;langue;region\n" + "".join(
        f"{csv_cell(i, n)};fr;Mopti\n" for i, n in enumerate(AUDIENCE)
    )
    window = open_window()
    form = {
        "name": "Mopti, mars",
        "flow": "return_intention",
        "channel": "sms",
        "window": window.window,
        "timezone": window.timezone,
        "throttle": "50",
        "audience": (io.BytesIO(csv_text.encode()), "liste.csv"),
    }
    created = client.post(
        "/api/v1/campaigns", data=form, headers=manager, content_type="multipart/form-data"
    )
    assert created.status_code == 202, created.get_data(as_text=True)
    run_jobs()
    report = client.get(created.headers["Location"], headers=manager).get_json()
    assert report["accepted"] == len(AUDIENCE)
    campaign_id = created.get_json()["campaign"]["id"]
    started = client.post(f"/api/v1/campaigns/{campaign_id}/start", headers=manager)
    assert started.status_code == 200
    run_jobs()

    phones = [SmsPhone(client, runtime, run_jobs, number=n) for n in AUDIENCE]
    assert all(len(phone.replies()) == 1 for phone in phones), "every number got its invitation"
    for phone in phones[:3]:
        for answer in SMS_SURVEY:
            phone.send(answer)
    assert phones[3].send("1")[0].startswith("Région")
    assert phones[4].send("STOP") == ["Merci. Vous ne recevrez plus de messages de ce sondage."]
    for answer in SMS_SURVEY:
        phones[5].send(answer)
    phones[5].send("EFFACER")
    for provider_id in ("ATXid_1", "ATXid_2"):
        form = {"id": provider_id, "status": "Success", "phoneNumber": AUDIENCE[0]}
        assert client.post("/sms/delivery", data=form).status_code == 200
    ussd = Phone(client, USSD_HOUSEHOLD)
    ussd.dial()
    assert ussd.answer_all(FULL_SURVEY_RETURN)[-1].startswith("END ")
    run_jobs()
    progress = client.get(f"/api/v1/campaigns/{campaign_id}", headers=manager).get_json()
    assert progress["progress"]["completed"] >= 3 and progress["progress"]["opted_out"] == 1

    logs = caplog.text + "\n".join(
        f"{r.getMessage()} {r.args!r} {r.exc_text or ''} {getattr(r, 'extra', '')}"
        for r in caplog.records
    )
    assert len(caplog.records) > 20, "the run was logged"
    places = {
        "database": database_text(runtime),
        "redis": redis_text(runtime.redis),
        "logs": logs,
        "console outbox": outbox_stream.getvalue(),
    }
    assert "sms" in places["database"] and "rq:job:" in places["redis"]
    found = {
        (where, form)
        for where, text in places.items()
        for number in [*AUDIENCE, USSD_HOUSEHOLD]
        for form in forms_of(number)
        if form in text
    }
    assert found == set()
