"""``survey-gateway worker`` rides out Redis and the database going away, as operators see it.

A real worker process against a real Redis server that the test kills -9 and starts again on
the same data, as a crash or a restart by systemd would.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from rq import Worker
from sqlalchemy import select

from gateway.core.db import upgrade
from gateway.core.runtime import Runtime
from gateway.core.settings import Settings
from gateway.messaging.models import Message, MessageStatus
from handlers.ports import Reply
from tests.killable_redis import KillableRedis, free_port
from tests.processes.test_cli import REPO, cli_env, poll, stop_process
from workers.sms import reply_message_id

PHONE = "+22376123456"


def _runtime(tmp_path: Path, redis_url: str) -> Runtime:
    """The gateway as the test sees it: same var folder (so same keys) and database as the
    worker."""
    settings = Settings.from_env(
        {
            "GATEWAY_VAR_DIR": str(tmp_path / "var"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'gateway.db'}",
            "REDIS_URL": redis_url,
        }
    )
    upgrade(settings.database_url)
    return Runtime.build(settings)


@pytest.fixture
def worker(tmp_path: Path, killable_redis: KillableRedis) -> Iterator[subprocess.Popen[bytes]]:
    """``survey-gateway worker`` on the killable Redis; stopped whatever happens."""
    env = cli_env(tmp_path / "var")
    env["REDIS_URL"] = killable_redis.url
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'var' / 'gateway.db'}"
    with open(tmp_path / "worker.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "worker"],
            env=env,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            stop_process(process, signal.SIGTERM, timeout=15)


def _send_and_wait(runtime: Runtime) -> Message:
    """Queue one SMS the way a handler does and wait for the worker to record and send it."""
    key = uuid.uuid4().hex
    runtime.jobs.send_sms(
        Reply(
            key=key,
            respondent="respondent-1",
            phone_token=runtime.cipher.encrypt(PHONE),
            kind="test",
            body="Merci",
        )
    )

    def sent() -> Message | None:
        with runtime.sessions() as session:
            message = session.scalars(
                select(Message).where(Message.id == reply_message_id(key))
            ).first()
        return message if message is not None and message.status is MessageStatus.RECORDED else None

    return poll("the worker to send the SMS", sent, timeout=15)


def test_the_worker_rides_out_a_redis_restart(
    tmp_path: Path, killable_redis: KillableRedis, worker: subprocess.Popen[bytes]
) -> None:
    runtime = _runtime(tmp_path, killable_redis.url)
    _send_and_wait(runtime)  # the worker is up and taking jobs

    killable_redis.kill()
    time.sleep(5)
    assert worker.poll() is None, "the worker exited when Redis went away"
    killable_redis.start()

    message = _send_and_wait(runtime)
    assert message.to_masked == "+22376****56"
    assert worker.poll() is None
    log = (tmp_path / "worker.log").read_text()
    assert log.count("unreachable") == 1, log
    assert f"Redis unreachable at {killable_redis.url}: waiting" in log
    assert log.count("Redis is back after") == 1, log
    assert "Traceback" not in log, log
    assert PHONE[4:] not in log
    runtime.redis.close()


def test_the_worker_registers_again_when_redis_comes_back_empty(
    tmp_path: Path, killable_redis: KillableRedis, worker: subprocess.Popen[bytes]
) -> None:
    runtime = _runtime(tmp_path, killable_redis.url)
    _send_and_wait(runtime)

    killable_redis.kill()
    shutil.rmtree(killable_redis.data_dir)  # as a Redis without persistence comes back
    killable_redis.start()

    _send_and_wait(runtime)
    workers = Worker.all(connection=runtime.redis)
    assert [w.birth_date is not None for w in workers] == [True]
    assert worker.poll() is None
    runtime.redis.close()


def test_the_worker_waits_for_the_database_at_start(
    tmp_path: Path, killable_redis: KillableRedis
) -> None:
    env = cli_env(tmp_path / "var")
    env["REDIS_URL"] = killable_redis.url
    env["DATABASE_URL"] = f"postgresql://nobody:secret@127.0.0.1:{free_port()}/none"
    stderr_path = tmp_path / "worker.err"
    with stderr_path.open("wb") as stderr_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "worker"],
            env=env,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr_file,
        )
    try:
        # Starting takes seconds on a busy machine: wait for the worker to say it waits, then
        # check it is still waiting (and said so once) a while later.
        deadline = time.monotonic() + 60
        while "unreachable" not in stderr_path.read_text() and time.monotonic() < deadline:
            assert process.poll() is None, "the worker exited for want of the database"
            time.sleep(0.2)
        time.sleep(3)
        assert process.poll() is None, "the worker exited for want of the database"
    finally:
        process.kill()
        process.wait(timeout=10)
    log = stderr_path.read_text()
    assert log.count("unreachable") == 1, log
    assert "Database unreachable at postgresql://nobody:***@127.0.0.1:" in log, log
    assert "Traceback" not in log and "secret" not in log, log
