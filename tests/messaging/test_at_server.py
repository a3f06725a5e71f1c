"""The fake AT keeps, for each SMS, when it came and what it was answered; answers switch live."""

from __future__ import annotations

import time

import pytest
import requests

from gateway.core.errors import SendOutcomeUnknown, TransientSendError
from gateway.messaging.sender import AfricasTalkingSender
from tests.at_server import FakeATServer


def test_each_request_keeps_its_time_and_answer(at_server: FakeATServer) -> None:
    sender = AfricasTalkingSender("user", "key", api_url=at_server.url)
    before = time.monotonic()
    sender.send("+22376123456", "Bonjour")
    at_server.respond_with("http_500")
    with pytest.raises(TransientSendError):
        sender.send("+22376123457", "Bonjour")

    first, second = at_server.requests
    assert before <= first.received_at <= second.received_at <= time.monotonic()
    assert (first.answer, first.may_have_gone_out) == ("sent", True)
    assert (second.answer, second.may_have_gone_out) == ("http_500", False)


def test_a_dropped_connection_may_have_gone_out_and_sent_resumes(
    at_server: FakeATServer,
) -> None:
    sender = AfricasTalkingSender("user", "key", api_url=at_server.url)
    at_server.respond_with("drop")
    with pytest.raises(SendOutcomeUnknown):
        sender.send("+22376123456", "Bonjour")
    at_server.respond_with("sent")
    assert sender.send("+22376123456", "Encore").provider_id == "ATXid_1"
    assert [r.answer for r in at_server.requests] == ["drop", "sent"]
    assert all(r.may_have_gone_out for r in at_server.requests)


def test_slow_longer_than_the_read_timeout_is_no_answer() -> None:
    with FakeATServer(slow_seconds=2.0) as server:
        server.respond_with("slow")
        with pytest.raises(requests.ReadTimeout):
            requests.post(f"{server.url}/version1/messaging", data={"to": "x"}, timeout=0.3)
        assert server.requests[0].answer == "slow"
