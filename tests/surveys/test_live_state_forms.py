"""Live state written in the compact forms, and live state written before them, both work.

Runs are compressed against a preset dictionary, a respondent's runs and active-run pointers
share one small hash, and a reminder's step is packed in its score. A gateway upgraded with
households mid-survey still reads what the previous version wrote: runs compressed without
the dictionary or kept as plain JSON, the set of a respondent's runs, the active-run key, and
reminders whose step is in the hash.
"""

from __future__ import annotations

import json
import time
import zlib
from datetime import UTC, datetime, timedelta

from flows import resume, start
from gateway.core.runtime import Runtime
from gateway.surveys.live_records import run_data, run_json
from gateway.surveys.pending_work import (
    REMINDER_STEPS_KEY,
    REMINDERS_KEY,
    due_reminders,
    reminders_done,
)
from handlers.ports import Channel, RunRecord

NUMBER = "+22376000042"


def a_run(runtime: Runtime, answers: int = 2) -> RunRecord:
    flow = runtime.ussd_flow
    now = datetime.now(UTC)
    step = start(flow, run_id=runtime.services.new_id(), language="fr", now=now)
    for answer in ["1", "11", "5"][:answers]:
        step = resume(flow, step.state, answer, now=now)
    return RunRecord(
        state=step.state,
        respondent=runtime.services.pseudonymise(NUMBER),
        channel=Channel.SMS.value,
        phone_token=runtime.cipher.encrypt(NUMBER),
        reminder_count=2,
        reminder_interval=timedelta(hours=24),
    )


def test_a_run_is_stored_smaller_and_read_back_whole(runtime: Runtime) -> None:
    record = a_run(runtime)
    runtime.store.save_run(record)

    stored = runtime.redis.get(f"sg:run:{record.state.run_id}")
    assert stored is not None
    assert len(stored) < len(zlib.compress(json.dumps(run_json(stored)).encode(), 6))
    assert runtime.store.load_run(record.state.run_id) == record


def test_runs_stored_without_the_dictionary_or_as_plain_json_are_still_read(
    runtime: Runtime,
) -> None:
    compressed, plain = a_run(runtime), a_run(runtime, answers=1)
    text = {r.state.run_id: json.dumps(run_json(run_data(r))) for r in (compressed, plain)}
    runtime.redis.set(
        f"sg:run:{compressed.state.run_id}", zlib.compress(text[compressed.state.run_id].encode())
    )
    runtime.redis.set(f"sg:run:{plain.state.run_id}", text[plain.state.run_id])

    assert runtime.store.load_run(compressed.state.run_id) == compressed
    assert runtime.store.load_run(plain.state.run_id) == plain


def test_a_respondents_runs_and_active_run_share_one_small_key(runtime: Runtime) -> None:
    record = a_run(runtime)
    runtime.store.save_run(record)

    keys = sorted(k.decode().split(":")[1] for k in runtime.redis.keys("sg:*"))
    assert keys == ["r", "run"]
    assert runtime.store.active_run(record.state.flow_id, record.respondent) == record
    runtime.store.forget(record.respondent)
    assert runtime.redis.keys("sg:*") == []


def test_an_active_run_past_its_expiry_is_not_resumed(runtime: Runtime) -> None:
    record = a_run(runtime)
    runtime.store.save_run(record)
    pointer = f"{record.state.run_id} {time.time() - 1:.0f}"
    runtime.redis.hset(f"sg:r:{record.respondent}", f"a:{record.state.flow_id}", pointer)

    assert runtime.store.active_run(record.state.flow_id, record.respondent) is None


def test_runs_indexed_and_pointed_to_before_are_resumed_and_erased(runtime: Runtime) -> None:
    record = a_run(runtime)
    run_id, flow_id, respondent = record.state.run_id, record.state.flow_id, record.respondent
    # As the previous version left them: a set of the respondent's runs, an active-run key.
    runtime.redis.set(f"sg:run:{run_id}", run_data(record))
    runtime.redis.sadd(f"sg:runs:{respondent}", run_id)
    runtime.redis.set(f"sg:active:{flow_id}:{respondent}", run_id)

    assert runtime.store.active_run(flow_id, respondent) == record
    runtime.store.forget(respondent)
    assert runtime.redis.keys("sg:*") == []


def test_a_reminder_is_one_member_of_one_key_and_comes_due(runtime: Runtime) -> None:
    run_id = runtime.services.new_id()
    runtime.store.schedule_reminder(run_id, 3, 2, timedelta(0))
    assert runtime.redis.keys("sg:*") == [REMINDERS_KEY.encode()]
    time.sleep(0.01)

    due = due_reminders(runtime.redis, 10)

    assert [(r, seq, number) for r, _, seq, number in due] == [(run_id, 3, 2)]
    reminders_done(runtime.redis, [(r, score) for r, score, _, _ in due])
    assert runtime.redis.zcard(REMINDERS_KEY) == 0


def test_a_reminder_planned_before_is_still_sent_once(runtime: Runtime) -> None:
    run_id, later = runtime.services.new_id(), runtime.services.new_id()
    # As the previous version left them: the due time as the score, the step in the hash.
    runtime.redis.zadd(REMINDERS_KEY, {run_id: time.time() - 5, later: time.time() + 3600})
    runtime.redis.hset(REMINDER_STEPS_KEY, mapping={run_id: "4:1", later: "2:1"})

    due = due_reminders(runtime.redis, 10)

    assert [(r, seq, number) for r, _, seq, number in due] == [(run_id, 4, 1)]
    reminders_done(runtime.redis, [(r, score) for r, score, _, _ in due])
    assert runtime.redis.zrange(REMINDERS_KEY, 0, -1) == [later.encode()]
    assert runtime.redis.hkeys(REMINDER_STEPS_KEY) == [later.encode()]
