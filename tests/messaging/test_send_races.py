"""Two jobs sending the same message at once (an RQ retry of a job thought dead, a sweep):
the household gets it once. The claim reads the message under a row lock (PostgreSQL); on
SQLite the second writer's stale snapshot is refused and its job retried."""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import event

from gateway.core.runtime import Runtime
from gateway.messaging.models import Message, MessageStatus
from gateway.messaging.sender import AfricasTalkingSender
from gateway.surveys.persistence import create_message
from tests.at_server import FakeATServer
from workers.context import WorkerContext, install
from workers.jobs import send_message


def test_two_jobs_sending_one_message_at_once_send_it_once(
    runtime: Runtime, at_server: FakeATServer
) -> None:
    with runtime.sessions.begin() as session:
        message = create_message(
            session,
            submission_id=None,
            respondent_id="r" * 64,
            kind="help",
            to_e164="+22376123456",
            body="Aide",
            cipher=runtime.cipher,
        )
        message_id = message.id
    install(
        WorkerContext(
            runtime=runtime, sender=AfricasTalkingSender("sandbox", "k", api_url=at_server.url)
        )
    )

    first_in = threading.Event()
    slowed: list[int] = []

    # The first job holds its claim uncommitted for a moment, as a busy database would: the
    # second job reads the message meanwhile.
    @event.listens_for(runtime.engine, "commit")
    def slow_first_commit(_connection: Any) -> None:
        if threading.current_thread().name == "first" and not slowed:
            slowed.append(1)
            first_in.set()
            time.sleep(0.5)

    errors: list[BaseException] = []

    def send() -> None:
        try:
            send_message(message_id)
        except BaseException as exc:  # an RQ job would be retried; here it is just noted
            errors.append(exc)

    first = threading.Thread(target=send, name="first")
    second = threading.Thread(target=send, name="second")
    first.start()
    first_in.wait(timeout=5)
    second.start()
    first.join(timeout=10)
    second.join(timeout=10)
    event.remove(runtime.engine, "commit", slow_first_commit)
    send_message(message_id)  # the retry of whichever job failed, if one did

    assert at_server.received_count == 1
    with runtime.sessions() as session:
        stored = session.get(Message, message_id)
        assert stored is not None and stored.status is MessageStatus.SENT
