"""A local stand-in for Africa's Talking's SMS API: a real HTTP server on 127.0.0.1.

It answers ``POST /version1/messaging`` the way AT does, records every request, and lets a test
choose the answer::

    def test_something(at_server):
        at_server.respond_with("http_500", "sent")   # first request fails, the rest succeed
        sender = AfricasTalkingSender("user", "key", api_url=at_server.url)
        ...
        assert at_server.requests[0].form["to"] == "+22376123456"

Use the ``at_server`` fixture (import it into conftest.py), or ``with FakeATServer() as server``.
``refused_url()`` gives a URL where nothing listens, for "connection refused".

The answer can be switched while a campaign runs (``respond_with("http_500")`` until told
``respond_with("sent")`` again), and every request keeps the time it arrived and the answer it
got, so a fault test can tell what AT took, when, and at what rate (``make faults``). With
``slow_seconds`` longer than the sender's read timeout, "slow" never answers in time.

PYTEST_DONT_REWRITE: this module has no asserts to rewrite, and it is imported both directly and
as a plugin; the marker keeps pytest from warning that it was imported before being registered.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, get_args
from urllib.parse import parse_qs

import pytest

Answer = Literal[
    "sent",  # 201, every recipient statusCode 101 Success, messageId ATXid_<n>, XOF 25.0000
    "invalid_sender",  # 201, Message "InvalidSenderId", no recipients
    "invalid_number",  # 201, recipient statusCode 403 InvalidPhoneNumber
    "blacklisted",  # 201, recipient statusCode 406 UserInBlacklist
    "http_500",  # 500, plain text
    "http_502",  # 502, an HTML page from the load balancer
    "http_401",  # 401, "The supplied authentication is invalid"
    "slow",  # waits slow_seconds (longer than a client read timeout), then as "sent"
    "drop",  # reads the request, then closes the connection without answering
    "garbled",  # 201 claiming application/json, with a truncated body
    "html_200",  # 200 text/html maintenance page
]
ANSWERS: frozenset[str] = frozenset(get_args(Answer))

MESSAGING_PATH = "/version1/messaging"
COST = "XOF 25.0000"
_REFUSED: dict[str, tuple[int, str]] = {
    "invalid_number": (403, "InvalidPhoneNumber"),
    "blacklisted": (406, "UserInBlacklist"),
}


@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    """One request as the fake AT saw it."""

    method: str
    path: str
    form: dict[str, str]  # the form-encoded body, one value per field
    headers: dict[str, str]  # names lower-cased, e.g. headers["apikey"]
    received_at: float = 0.0  # time.monotonic() when it arrived
    answer: str = ""  # the scripted answer it got ("sent", "http_500", "drop", ...)
    message_ids: tuple[str, ...] = ()  # the messageId given to each recipient, if any

    @property
    def may_have_gone_out(self) -> bool:
        """Whether AT could have texted it: taken, or the answer lost on the way back."""
        return self.answer in ("sent", "slow", "drop", "garbled")


class FakeATServer:
    """AT's SMS endpoint on a free local port, with scripted answers."""

    def __init__(self, slow_seconds: float = 2.0) -> None:
        self.slow_seconds = slow_seconds
        self._lock = threading.Lock()
        self._script: list[Answer] = ["sent"]
        self._received: list[ReceivedRequest] = []
        self._sent_count = 0
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        # A short poll interval keeps shutdown, and so each test's teardown, fast.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.01,), name="fake-at", daemon=True
        )

    @property
    def url(self) -> str:
        """Base URL to pass as ``api_url`` (the SDK appends /version1/messaging)."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def requests(self) -> list[ReceivedRequest]:
        """Every request received so far, oldest first."""
        with self._lock:
            return list(self._received)

    @property
    def received_count(self) -> int:
        """How many requests have been received so far."""
        with self._lock:
            return len(self._received)

    def respond_with(self, *answers: Answer) -> None:
        """Answer the next requests in this order; the last answer then repeats."""
        unknown = [a for a in answers if a not in ANSWERS]
        if not answers or unknown:
            raise ValueError(f"answers must be some of {sorted(ANSWERS)}, got {answers!r}")
        with self._lock:
            self._script = list(answers)

    def start(self) -> FakeATServer:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, waking any request held by "slow"."""
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeATServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _record(self, request: ReceivedRequest) -> tuple[Answer, list[str]]:
        """Keep the request; return the answer due and message ids for its recipients."""
        with self._lock:
            answer = self._script.pop(0) if len(self._script) > 1 else self._script[0]
            ids: list[str] = []
            if answer in ("sent", "slow"):
                for _ in request.form.get("to", "").split(","):
                    self._sent_count += 1
                    ids.append(f"ATXid_{self._sent_count}")
            kept = replace(
                request, received_at=time.monotonic(), answer=answer, message_ids=tuple(ids)
            )
            self._received.append(kept)
            return answer, ids

    def _wait_slow(self) -> None:
        self._stopping.wait(self.slow_seconds)


def refused_url() -> str:
    """A base URL on a local port where nothing listens, so connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def at_server() -> Iterator[FakeATServer]:
    """A running fake AT answering "sent" until told otherwise."""
    with FakeATServer() as server:
        yield server


def _handler_for(server: FakeATServer) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to ``server``."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8")
            form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
            request = ReceivedRequest(
                method="POST",
                path=self.path,
                form=form,
                headers={k.lower(): v for k, v in self.headers.items()},
            )
            answer, ids = server._record(request)
            if self.path != MESSAGING_PATH:
                self._reply(404, "text/plain", "Not Found")
                return
            if answer == "slow":
                server._wait_slow()
            if answer == "drop":
                self.close_connection = True
                return
            self._reply(*_answer(answer, form, ids))

        def _reply(self, status: int, content_type: str, body: str) -> None:
            data = body.encode("utf-8")
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting ("slow"); that is the point of the test

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    return Handler


def _answer(answer: Answer, form: dict[str, str], ids: list[str]) -> tuple[int, str, str]:
    """Status, content type and body AT would send for ``answer``."""
    numbers = [n for n in form.get("to", "").split(",") if n]
    if answer in ("sent", "slow"):
        recipients = [
            {
                "statusCode": 101,
                "number": number,
                "status": "Success",
                "cost": COST,
                "messageId": message_id,
            }
            for number, message_id in zip(numbers, ids, strict=False)
        ]
        total = f"XOF {25 * len(recipients)}.0000"
        message = f"Sent to {len(recipients)}/{len(numbers)} Total Cost: {total}"
        return _json(message, recipients)
    if answer == "invalid_sender":
        return _json("InvalidSenderId", [])
    if answer in _REFUSED:
        code, status = _REFUSED[answer]
        recipients = [
            {"statusCode": code, "number": n, "status": status, "cost": "0", "messageId": "None"}
            for n in numbers
        ]
        return _json(f"Sent to 0/{len(numbers)} Total Cost: 0", recipients)
    if answer == "http_500":
        return 500, "text/plain", "Internal Server Error"
    if answer == "http_502":
        page = (
            "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
            "<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"
        )
        return 502, "text/html", page
    if answer == "http_401":
        return 401, "text/plain", "The supplied authentication is invalid"
    if answer == "garbled":
        return 201, "application/json", '{"SMSMessageData": {"Message": "Sent to 1/1'
    return 200, "text/html", "<html><body>Service under maintenance</body></html>"


def _json(message: str, recipients: list[dict[str, object]]) -> tuple[int, str, str]:
    """A 201 JSON answer; content type exactly "application/json", as the SDK requires."""
    body = {"SMSMessageData": {"Message": message, "Recipients": recipients}}
    return 201, "application/json", json.dumps(body)
