"""The SMS sender, driven through the real AT SDK against a local fake of AT's API."""

from __future__ import annotations

import io
import traceback

import pytest

from gateway.core.errors import (
    PermanentSendError,
    SendError,
    SendOutcomeUnknown,
    TransientSendError,
)
from gateway.core.settings import Settings
from gateway.messaging.sender import (
    AfricasTalkingSender,
    ConsoleSender,
    SendResult,
    SendStatus,
    make_sender,
)
from gateway.surveys.simulator_numbers import draw_simulator_number
from handlers.phone import mask_phone
from tests.at_server import FakeATServer, refused_url

# Registers the at_server fixture even when tests/conftest.py does not import it.
pytest_plugins = ["tests.at_server"]

NUMBER = "+22376123456"
MASKED = "+22376****56"
BODY = "Bonjour! Comptez-vous rentrer chez vous ce mois-ci? 1=Oui 2=Non"


def at_sender(
    url: str, sender_id: str | None = "SURVEY", read_timeout: float = 2
) -> AfricasTalkingSender:
    """An AT sender aimed at ``url`` with short timeouts."""
    return AfricasTalkingSender(
        "survey-org", "secret-key", sender_id=sender_id, api_url=url, timeout=(1, read_timeout)
    )


def send_error(sender: AfricasTalkingSender, to: str = NUMBER) -> SendError:
    """The error a send raises; fails the test if it does not raise one."""
    with pytest.raises(SendError) as excinfo:
        sender.send(to, BODY)
    return excinfo.value


def as_logged(error: BaseException) -> str:
    """What ``logger.exception`` would write for ``error``, cause chain included."""
    return "".join(traceback.format_exception(error))


def test_sent_message_returns_at_message_id_and_cost(at_server: FakeATServer) -> None:
    result = at_sender(at_server.url).send(NUMBER, BODY)

    assert result == SendResult(
        status=SendStatus.SENT, provider_id="ATXid_1", cost="XOF 25.0000", detail="Success"
    )
    [request] = at_server.requests
    assert request.path == "/version1/messaging"
    assert request.headers["apikey"] == "secret-key"
    assert request.form["username"] == "survey-org"
    assert request.form["to"] == NUMBER
    assert request.form["message"] == BODY
    assert request.form["from"] == "SURVEY"


def test_without_sender_id_at_picks_the_sender(at_server: FakeATServer) -> None:
    at_sender(at_server.url, sender_id=None).send(NUMBER, BODY)

    assert "from" not in at_server.requests[0].form


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("invalid_sender", "InvalidSenderId"),
        ("invalid_number", "InvalidPhoneNumber (403)"),
        ("blacklisted", "UserInBlacklist (406)"),
        ("http_401", "HTTP 401: The supplied authentication is invalid"),
    ],
)
def test_refusals_are_permanent_and_say_why(
    at_server: FakeATServer, answer: str, reason: str
) -> None:
    at_server.respond_with(answer)  # type: ignore[arg-type]

    error = send_error(at_sender(at_server.url))

    assert isinstance(error, PermanentSendError)
    assert reason in str(error)
    assert NUMBER not in as_logged(error)


@pytest.mark.parametrize(
    ("answer", "reason"), [("http_500", "HTTP 500"), ("http_502", "HTTP 502: <html>")]
)
def test_at_server_errors_are_transient(at_server: FakeATServer, answer: str, reason: str) -> None:
    at_server.respond_with(answer)  # type: ignore[arg-type]

    error = send_error(at_sender(at_server.url))

    assert isinstance(error, TransientSendError)
    assert reason in str(error)


def test_a_retry_after_a_transient_error_sends_once(at_server: FakeATServer) -> None:
    at_server.respond_with("http_500", "sent")
    sender = at_sender(at_server.url)

    assert isinstance(send_error(sender), TransientSendError)
    assert sender.send(NUMBER, BODY).provider_id == "ATXid_1"
    assert len(at_server.requests) == 2


def test_read_timeout_is_outcome_unknown_and_not_resent(at_server: FakeATServer) -> None:
    at_server.respond_with("slow")  # answers after 2 s, the client gives up after 0.5 s

    error = send_error(at_sender(at_server.url, read_timeout=0.5))

    assert isinstance(error, SendOutcomeUnknown)
    assert "may have gone out; not re-sent" in str(error)
    assert len(at_server.requests) == 1


@pytest.mark.parametrize("answer", ["drop", "garbled", "html_200"])
def test_no_usable_answer_after_sending_is_outcome_unknown(
    at_server: FakeATServer, answer: str
) -> None:
    at_server.respond_with(answer)  # type: ignore[arg-type]

    error = send_error(at_sender(at_server.url))

    assert isinstance(error, SendOutcomeUnknown)
    assert "may have gone out; not re-sent" in str(error)
    assert len(at_server.requests) == 1


def test_connection_refused_is_transient() -> None:
    error = send_error(at_sender(refused_url()))

    assert isinstance(error, TransientSendError)


def test_malformed_number_is_permanent_and_never_sent(at_server: FakeATServer) -> None:
    error = send_error(at_sender(at_server.url), to="0076123456")

    assert isinstance(error, PermanentSendError)
    assert "********56" in str(error)
    assert "0076123456" not in as_logged(error)
    assert at_server.requests == []


def test_console_sender_prints_masked_number_and_body() -> None:
    out = io.StringIO()

    result = ConsoleSender(out).send(NUMBER, BODY)

    assert out.getvalue() == f"SMS to {MASKED}: {BODY}\n"
    assert result == SendResult(
        status=SendStatus.RECORDED, provider_id=None, cost=None, detail="console"
    )


def test_console_sender_prints_to_stdout_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    ConsoleSender().send(NUMBER, "Merci")

    assert capsys.readouterr().out == f"SMS to {MASKED}: Merci\n"


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        (NUMBER, MASKED),
        ("+254712345678", "+25471*****78"),  # Kenya
        ("+14155552671", "+141******71"),  # one-digit country code
        ("+2237612", "+*****12"),  # too short to show the head safely
        ("0761234567", "********67"),  # national format: no country code to keep
        ("not a number", "****"),
        ("", "****"),
    ],
)
def test_mask_phone(number: str, masked: str) -> None:
    assert mask_phone(number) == masked


def test_make_sender_without_at_credentials_prints() -> None:
    assert isinstance(make_sender(Settings()), ConsoleSender)
    assert isinstance(make_sender(Settings(at_username="survey-org")), ConsoleSender)


def test_make_sender_with_at_credentials_sends_through_at(at_server: FakeATServer) -> None:
    settings = Settings(
        at_username="survey-org",
        at_api_key="secret-key",
        at_sender_id="SURVEY",
        at_api_url=at_server.url + "/",
    )

    result = make_sender(settings).send(NUMBER, BODY)

    assert result.status is SendStatus.SENT
    [request] = at_server.requests
    assert request.headers["apikey"] == "secret-key"
    assert (request.form["username"], request.form["from"]) == ("survey-org", "SURVEY")


def test_messages_to_a_simulator_number_never_reach_at(at_server: FakeATServer) -> None:
    settings = Settings(
        at_username="survey-org", at_api_key="secret-key", at_api_url=at_server.url + "/"
    )
    sender = make_sender(settings)

    result = sender.send(draw_simulator_number(), BODY)

    assert result.status is SendStatus.RECORDED and result.detail == "simulator"
    assert at_server.requests == []
    assert sender.send(NUMBER, BODY).status is SendStatus.SENT
    assert len(at_server.requests) == 1
