"""Outbound SMS: hand one message to Africa's Talking, or print it when no credentials are set.

Every failure leaves this module as a ``SendError`` subclass, so callers decide on retries from
the class alone:

==========================================================  ======================================
What happened                                               Raised / returned
==========================================================  ======================================
AT 2xx, recipient statusCode 100 / 101 / 102                ``SendResult(SENT, messageId, cost)``
AT 2xx, recipient statusCode 401-407, 409                   ``PermanentSendError``
AT 2xx, recipient statusCode 500 / 501 / 502                ``TransientSendError``
AT 2xx, recipient statusCode not listed above               ``SendOutcomeUnknown``
AT 2xx, no recipients (``"Message": "InvalidSenderId"``)    ``PermanentSendError``
AT 2xx, body not the JSON AT documents                      ``SendOutcomeUnknown``
AT HTTP 5xx or 429                                          ``TransientSendError``
AT HTTP 4xx other than 429 (401 bad API key, ...)           ``PermanentSendError``
AT HTTP error whose status cannot be recovered              ``TransientSendError``
number the SDK rejects before sending (``ValueError``)      ``PermanentSendError``
connection refused, DNS failure, connect timeout, TLS       ``TransientSendError``
read timeout, connection dropped before AT answered         ``SendOutcomeUnknown``
any other ``requests`` error                                ``SendOutcomeUnknown``
==========================================================  ======================================

``SendOutcomeUnknown`` (a ``PermanentSendError``) means the request reached AT but no usable
answer came back: the SMS may have gone out, and sending again could text the person twice,
so it is not retried.
"""

from __future__ import annotations

import json
import sys
import traceback
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, TextIO

import requests
from africastalking.Service import AfricasTalkingException
from africastalking.SMS import SMSService
from urllib3.exceptions import ProtocolError

from gateway.core.errors import PermanentSendError, SendOutcomeUnknown, TransientSendError
from gateway.core.settings import Settings
from gateway.surveys.simulator_numbers import is_simulator_number
from handlers.phone import mask_phone

# AT's per-recipient statusCode values, from its SMS API reference.
_ACCEPTED = frozenset({100, 101, 102})  # Processed, Sent, Queued
_REFUSED = frozenset({401, 402, 403, 404, 405, 406, 407, 409})
_AT_FAILED = frozenset({500, 501, 502})  # InternalServerError, GatewayError, RejectedByGateway

_NOT_RESENT = "the message may have gone out; not re-sent"
_MAX_DETAIL = 200


class SendStatus(StrEnum):
    """What became of a message handed to a sender."""

    SENT = "sent"
    RECORDED = "recorded"  # console sender: nothing left the machine


@dataclass(frozen=True, slots=True)
class SendResult:
    """A message the sender got rid of without error."""

    status: SendStatus
    provider_id: str | None  # AT messageId
    cost: str | None  # AT cost string, e.g. "XOF 25.0000"
    detail: str  # AT status text, or "console"


class Sender(Protocol):
    """Anything that can send one SMS."""

    def send(self, to: str, body: str) -> SendResult:
        """Send ``body`` to ``to`` (E.164, e.g. "+22376123456") or raise a ``SendError``."""
        ...


class ConsoleSender:
    """Prints messages instead of sending them, for development without AT credentials."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    def send(self, to: str, body: str) -> SendResult:
        """Print the message with the number masked; nothing leaves the machine."""
        # Look up stdout at call time so a redirected sys.stdout (pytest's capsys) is honoured.
        stream = self._stream if self._stream is not None else sys.stdout
        print(f"SMS to {mask_phone(to)}: {body}", file=stream, flush=True)
        return SendResult(status=SendStatus.RECORDED, provider_id=None, cost=None, detail="console")


class AfricasTalkingSender:
    """Sends through AT's bulk SMS API with the official SDK; see the module doc for errors."""

    def __init__(
        self,
        username: str,
        api_key: str,
        sender_id: str | None = None,
        api_url: str | None = None,
        timeout: float | tuple[float, float] = (3.05, 10),
    ) -> None:
        self._service = SMSService(username, api_key)
        if api_url:
            # The SDK hard-codes AT's host; its private _baseUrl is the only seam to point it
            # elsewhere (a local fake in tests, a proxy in deployment).
            self._service._baseUrl = api_url.rstrip("/") + "/version1"
        self._sender_id = sender_id
        self._timeout = timeout

    def send(self, to: str, body: str) -> SendResult:
        """Send one SMS and return AT's messageId and cost, or raise a ``SendError``."""
        try:
            answer = self._service.send(
                body, [to], sender_id=self._sender_id, timeout=self._timeout
            )
        except requests.JSONDecodeError as exc:
            # Caught before ValueError, which it also is: AT accepted the request (2xx).
            raise SendOutcomeUnknown(f"AT's answer was not JSON: {_NOT_RESENT}") from exc
        except requests.ConnectTimeout as exc:
            raise TransientSendError("could not connect to AT in time") from exc
        except requests.ReadTimeout as exc:
            raise SendOutcomeUnknown(f"no answer from AT after sending: {_NOT_RESENT}") from exc
        except requests.ConnectionError as exc:
            # A ProtocolError means the connection was made and then dropped, possibly after AT
            # had the whole request; anything else (refused, DNS, TLS) means it never arrived.
            if exc.args and isinstance(exc.args[0], ProtocolError):
                raise SendOutcomeUnknown(
                    f"AT dropped the connection before answering: {_NOT_RESENT}"
                ) from exc
            raise TransientSendError("could not connect to AT") from exc
        except requests.RequestException as exc:
            raise SendOutcomeUnknown(
                f"sending to AT failed ({type(exc).__name__}): {_NOT_RESENT}"
            ) from exc
        except AfricasTalkingException as exc:
            # `from None`: the SDK's text is AT's body, which may echo the full number.
            raise _http_error(exc, to) from None
        except ValueError:
            # `from None`: the SDK's message holds the full number.
            raise PermanentSendError(f"not a phone number AT accepts: {mask_phone(to)}") from None
        return _result_from(answer, to)


class SimulatorAware:
    """Hands messages to ``sender``, except those to a simulator number, which stay here."""

    def __init__(self, sender: Sender) -> None:
        self._sender = sender

    def send(self, to: str, body: str) -> SendResult:
        """Record a message to a simulator number; send any other through ``sender``."""
        if is_simulator_number(to):
            # A fictional number nobody holds: AT would refuse it or charge for it. The
            # simulator page reads its replies from the outbox.
            return SendResult(SendStatus.RECORDED, provider_id=None, cost=None, detail="simulator")
        return self._sender.send(to, body)


def make_sender(settings: Settings) -> Sender:
    """AT when credentials are set (``settings.sends_sms``), else the console sender.

    Either way, messages to the phone simulator's numbers never leave the machine.
    """
    # The repeated checks only narrow the types for mypy; sends_sms is the rule.
    if not (settings.sends_sms and settings.at_username and settings.at_api_key):
        return ConsoleSender()
    return SimulatorAware(
        AfricasTalkingSender(
            settings.at_username,
            settings.at_api_key,
            sender_id=settings.at_sender_id,
            api_url=settings.at_api_url,
        )
    )


def _http_error(exc: AfricasTalkingException, to: str) -> TransientSendError | PermanentSendError:
    """Classify a non-2xx answer from AT by its HTTP status."""
    status = _http_status(exc)
    text = _clean(str(exc), to) or "empty body"
    if status is None:
        # Non-2xx means AT did not take the message, so a retry cannot send it twice.
        return TransientSendError(f"AT answered with an error: {text}")
    if status >= 500 or status == 429:
        return TransientSendError(f"AT answered HTTP {status}: {text}")
    return PermanentSendError(f"AT answered HTTP {status}: {text}")


def _http_status(exc: AfricasTalkingException) -> int | None:
    """The HTTP status behind an SDK error, or None if it cannot be found."""
    # The SDK raises AfricasTalkingException(res.text) and drops the status, but its raising
    # frame still holds the response as the local `res`. tests/test_sender.py tells 401 from
    # 5xx, so an SDK that stops doing this fails there rather than silently.
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        response = frame.f_locals.get("res")
        if isinstance(response, requests.Response):
            return response.status_code
    return None


def _result_from(answer: Any, to: str) -> SendResult:
    """Turn AT's 2xx answer into a result, or raise for a refused recipient."""
    if isinstance(answer, str):
        # The SDK parses JSON only when content-type is exactly "application/json".
        try:
            answer = json.loads(answer)
        except ValueError:
            raise SendOutcomeUnknown(
                f"AT's answer was not JSON ({_clean(answer, to)!r}): {_NOT_RESENT}"
            ) from None
    data = answer.get("SMSMessageData") if isinstance(answer, dict) else None
    if not isinstance(data, dict):
        raise SendOutcomeUnknown(f"AT's answer had no SMSMessageData: {_NOT_RESENT}")
    recipients = data.get("Recipients")
    if not recipients:
        message = _clean(str(data.get("Message") or ""), to) or "no reason given"
        raise PermanentSendError(f"AT refused the message: {message}")
    recipient = recipients[0] if isinstance(recipients, list) else None
    if not isinstance(recipient, dict):
        raise SendOutcomeUnknown(f"AT's answer had an unreadable recipient: {_NOT_RESENT}")
    status_text = _clean(str(recipient.get("status") or ""), to) or "no status"
    raw_code = recipient.get("statusCode")
    try:
        code = None if raw_code is None else int(raw_code)
    except (TypeError, ValueError):
        code = None
    if code in _ACCEPTED:
        return SendResult(
            status=SendStatus.SENT,
            provider_id=_optional_str(recipient.get("messageId")),
            cost=_optional_str(recipient.get("cost")),
            detail=status_text,
        )
    if code in _REFUSED:
        raise PermanentSendError(f"AT refused the message: {status_text} ({code})")
    if code in _AT_FAILED:
        raise TransientSendError(f"AT could not pass the message on: {status_text} ({code})")
    raise SendOutcomeUnknown(f"AT answered {status_text} ({code}), unknown here: {_NOT_RESENT}")


def _clean(text: str, to: str) -> str:
    """AT's text made safe for logs: number masked, whitespace collapsed, length capped."""
    if to:
        text = text.replace(to, mask_phone(to))
    text = " ".join(text.split())
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"


def _optional_str(value: object) -> str | None:
    """``str(value)``, keeping None as None."""
    return None if value is None else str(value)
