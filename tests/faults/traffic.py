"""What AT posts to the gateway while the faults happen: USSD, inbound SMS, delivery reports.

Households answer the whole USSD survey, one after another on each of a few lines, with a
person's pause between screens. One that gets an error (a 5xx, no answer, the "service
unavailable" screen) dials again, as a person would, and chooses to start again when offered.
A household is *confirmed* when it saw the closing thanks: its answers must then be in the
database. Inbound SMS and delivery reports (one "Success" for each SMS the fake AT took) are
retried like AT retries a callback that failed.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import requests

from tests.at_server import FakeATServer
from tests.bench_wrk import ANSWERS
from tests.faults.topology import Gateway

HTTP_TIMEOUT_S = 10.0
REDIAL_AFTER_S = 1.0
MAX_DIALS = 15
# AT retries an inbound SMS callback that failed; here every 2 s for up to a minute.
SMS_RETRY_EVERY_S = 2.0
SMS_RETRY_FOR_S = 60.0
RESTART_OPTION = "2"  # "2. Recommencer" on the screen offering a survey under way
UNAVAILABLE_SCREEN = "END Service momentanement indisponible"
# Callbacks AT retries until answered: a 503 there asks for a retry, it is not a failure.
RETRIED = frozenset({"/sms/inbound", "/sms/delivery"})


@dataclass
class CallbackStats:
    """What the simulated AT got back from the gateway's callbacks."""

    requests: Counter[str] = field(default_factory=Counter)  # per path
    server_errors: Counter[str] = field(default_factory=Counter)  # 5xx per path, but below
    retried_503: int = 0  # a 503 to a callback AT retries
    unanswered: Counter[str] = field(default_factory=Counter)  # no HTTP answer at all
    given_up: int = 0  # SMS callbacks still refused when AT stops retrying
    unavailable_screens: int = 0  # USSD "service unavailable" screens (200, not an error)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, path: str, status: int | None) -> None:
        """Count one callback and its HTTP status (None: no answer)."""
        with self._lock:
            self.requests[path] += 1
            if status is None:
                self.unanswered[path] += 1
            elif status == 503 and path in RETRIED:
                self.retried_503 += 1
            elif status >= 500:
                self.server_errors[path] += 1

    def unavailable(self) -> None:
        """Count a USSD "service unavailable" screen."""
        with self._lock:
            self.unavailable_screens += 1

    def gave_up(self) -> None:
        """Count an SMS callback AT gave up retrying."""
        with self._lock:
            self.given_up += 1


class AtCallbacks:
    """Posts to the gateway exactly as AT does, counting what comes back."""

    def __init__(self, gateway: Gateway, stats: CallbackStats) -> None:
        self._gateway = gateway
        self.stats = stats
        self._ids = itertools.count(1)
        self._id_lock = threading.Lock()

    def ussd(self, http: requests.Session, session_id: str, phone: str, text: str) -> str | None:
        """One USSD step; the screen, or None when the gateway failed to give one."""
        form = {
            "sessionId": session_id,
            "serviceCode": "*384*123#",
            "phoneNumber": phone,
            "networkCode": "61001",
            "text": text,
        }
        status, body = self._post(http, "/ussd", form)
        if body.startswith(UNAVAILABLE_SCREEN):
            self.stats.unavailable()
        return body if status == 200 else None

    def sms(self, http: requests.Session, phone: str, text: str, stop: threading.Event) -> bool:
        """One inbound SMS, retried as AT does until taken; False when AT would give up."""
        with self._id_lock:
            message_id = f"ATXid_in_{next(self._ids)}"
        form = {
            "from": phone,
            "to": "38412",
            "text": text,
            "date": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
            "id": message_id,
            "linkId": "",
            "networkCode": "61001",
        }
        return self.retried(http, "/sms/inbound", form, stop)

    def delivered(
        self, http: requests.Session, message_id: str, phone: str, stop: threading.Event
    ) -> bool:
        """AT's delivery report saying the message reached the handset, retried until taken."""
        form = {
            "id": message_id,
            "status": "Success",
            "phoneNumber": phone,
            "networkCode": "61001",
            "retryCount": "0",
        }
        return self.retried(http, "/sms/delivery", form, stop)

    def retried(
        self, http: requests.Session, path: str, form: dict[str, str], stop: threading.Event
    ) -> bool:
        """Post until the gateway answers under 500, as AT retries; False if AT gives up."""
        give_up = time.monotonic() + SMS_RETRY_FOR_S
        while True:
            status, _ = self._post(http, path, form)
            if status is not None and status < 500:
                return True
            if time.monotonic() >= give_up:
                self.stats.gave_up()
                return False
            if stop.wait(SMS_RETRY_EVERY_S):
                return False  # the load stopped: not AT giving up

    def _post(
        self, http: requests.Session, path: str, form: dict[str, str]
    ) -> tuple[int | None, str]:
        try:
            response = http.post(self._gateway.callback(path), data=form, timeout=HTTP_TIMEOUT_S)
        except requests.RequestException:
            self.stats.note(path, None)
            return None, ""
        self.stats.note(path, response.status_code)
        return response.status_code, response.text


def household_number(i: int) -> str:
    """The ``i``-th household of the USSD load (a Malian mobile number)."""
    return f"+2237{7000000 + i:07d}"


def texter_number(i: int) -> str:
    """The ``i``-th number texting a keyword during the faults."""
    return f"+2237{8000000 + i:07d}"


def is_thanks(screen: str) -> bool:
    """The survey's closing screen, or the one saying the household already answered."""
    return screen.startswith("END Merci") and ("enregistr" in screen or "deja" in screen)


class Households:
    """``lines`` households answering the USSD survey at once, one after another per line."""

    def __init__(self, callbacks: AtCallbacks, lines: int = 20, think_s: float = 1.5) -> None:
        self.confirmed: list[str] = []  # numbers that saw the closing thanks
        self.abandoned = 0  # households cut off when the load stopped
        self.gave_up = 0  # households still cut off after MAX_DIALS dials
        self.redials = 0
        self._callbacks = callbacks
        self._think_s = think_s
        self._numbers = itertools.count()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._line, name=f"household-{i}", daemon=True)
            for i in range(lines)
        ]

    def start(self) -> None:
        """Start every line."""
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop dialling; a household under way is given up (and not counted as confirmed)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=HTTP_TIMEOUT_S + 5)

    def _line(self) -> None:
        with requests.Session() as http:
            while not self._stop.is_set():
                with self._lock:
                    phone = household_number(next(self._numbers))
                if self._survey(http, phone):
                    with self._lock:
                        self.confirmed.append(phone)
                else:
                    with self._lock:
                        if self._stop.is_set():
                            self.abandoned += 1
                        else:
                            self.gave_up += 1

    def _survey(self, http: requests.Session, phone: str) -> bool:
        """Dial until the survey is answered (True) or the load stops (False)."""
        for dial in range(MAX_DIALS):
            if dial:
                with self._lock:
                    self.redials += 1
                if self._stop.wait(REDIAL_AFTER_S):
                    return False
            outcome = self._dial(http, phone)
            if outcome is not None:
                return outcome
        return False

    def _dial(self, http: requests.Session, phone: str) -> bool | None:
        """One USSD session: True confirmed, False stopped, None cut off (dial again)."""
        session_id = f"faults-{uuid.uuid4().hex}"
        typed: list[str] = []
        screen = self._callbacks.ussd(http, session_id, phone, "")
        if screen is not None and "Recommencer" in screen:
            typed.append(RESTART_OPTION)
            screen = self._callbacks.ussd(http, session_id, phone, RESTART_OPTION)
        for answer in ANSWERS:
            if screen is None or not screen.startswith("CON "):
                break
            if self._stop.wait(self._think_s):
                return False
            typed.append(answer)
            screen = self._callbacks.ussd(http, session_id, phone, "*".join(typed))
        if screen is not None and is_thanks(screen):
            return True
        return None


class _Loop:
    """A thread posting to the gateway until told to stop; subclasses say what, in ``_run``."""

    def __init__(self, callbacks: AtCallbacks, name: str) -> None:
        self._callbacks = callbacks
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        """Start posting."""
        self._thread.start()

    def stop(self) -> None:
        """Stop posting (what is being retried, or not yet posted, is given up)."""
        self._stop.set()
        self._thread.join(timeout=HTTP_TIMEOUT_S + 5)

    def _run(self) -> None:
        raise NotImplementedError


class Texters(_Loop):
    """Numbers texting HELP to the gateway every ``every_s`` seconds, through the faults."""

    def __init__(self, callbacks: AtCallbacks, every_s: float = 2.0) -> None:
        super().__init__(callbacks, "texters")
        self.sent = 0
        self._every_s = every_s

    def _run(self) -> None:
        with requests.Session() as http:
            for i in itertools.count():
                if self._stop.wait(self._every_s):
                    return
                self._callbacks.sms(http, texter_number(i), "AIDE", self._stop)
                self.sent += 1


class DeliveryReports(_Loop):
    """Posts AT's delivery report for every SMS the fake AT took, a second or so later."""

    def __init__(self, callbacks: AtCallbacks, at: FakeATServer) -> None:
        super().__init__(callbacks, "delivery-reports")
        self.posted = 0
        self._at = at

    def _run(self) -> None:
        done = 0
        with requests.Session() as http:
            while not self._stop.wait(1.0):
                received = self._at.requests
                for request in received[done:]:
                    if self._stop.is_set():
                        return
                    if request.answer != "sent":
                        continue  # AT did not take it (or its answer never came back)
                    for message_id in request.message_ids:
                        phone = request.form.get("to", "")
                        self._callbacks.delivered(http, message_id, phone, self._stop)
                        self.posted += 1
                done = len(received)
