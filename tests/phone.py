"""A handset for tests: posts to ``/ussd`` exactly as Africa's Talking does."""

from __future__ import annotations

import itertools
from typing import Any, Protocol

_sessions = itertools.count(1)

# consent, current region (Bamako), origin (Mopti), 6 people, return, in 1-3 months, food, NFI.
FULL_SURVEY_RETURN = ["1", "11", "5", "6", "1", "2", "1", "3"]


class Poster(Protocol):
    """Flask's test client, or anything that posts a form and returns a response."""

    def post(self, path: str, data: dict[str, str]) -> Any: ...


class Phone:
    """One household's phone: dial the code, then type answers."""

    def __init__(self, client: Poster, number: str = "+22376123456") -> None:
        self.client = client
        self.number = number
        self.session_id = ""
        self.typed: list[str] = []
        self.last_status = 0

    def dial(self) -> str:
        """Start a new USSD session; returns the first screen."""
        self.session_id = f"ATUid_test_{next(_sessions)}"
        self.typed = []
        return self._post("")

    def send(self, answer: str) -> str:
        """Type one answer in the current session; returns the next screen."""
        self.typed.append(answer)
        return self._post("*".join(self.typed))

    def resend(self) -> str:
        """AT re-sending the last request unchanged."""
        return self._post("*".join(self.typed))

    def answer_all(self, answers: list[str]) -> list[str]:
        """Type several answers; returns every screen seen."""
        return [self.send(a) for a in answers]

    def form(self, text: str) -> dict[str, str]:
        """The form AT posts for this phone and session."""
        return {
            "sessionId": self.session_id,
            "serviceCode": "*384*123#",
            "phoneNumber": self.number,
            "networkCode": "61001",
            "text": text,
        }

    def _post(self, text: str) -> str:
        response = self.client.post("/ussd", data=self.form(text))
        self.last_status = response.status_code
        body: str = response.get_data(as_text=True)
        return body


class SmsPhone:
    """A basic phone texting the gateway: each message posted as AT does, replies read back
    from the outbox once the workers have run (as they would arrive on the handset)."""

    _ids = itertools.count(1)

    def __init__(
        self, client: Poster, runtime: Any, run_jobs: Any, number: str = "+22376123456"
    ) -> None:
        self.client = client
        self.runtime = runtime
        self.run_jobs = run_jobs
        self.number = number
        self.seen: set[str] = set()
        self.last_status = 0

    def post(self, text: str, message_id: str | None = None) -> str:
        """Post one inbound SMS without running the workers; returns AT's message id."""
        message_id = message_id or f"ATXid_in_{next(self._ids)}"
        form = {
            "from": self.number,
            "to": "38412",
            "text": text,
            "date": "2026-03-01 09:00:00",
            "id": message_id,
            "linkId": "",
            "networkCode": "61001",
        }
        self.last_status = self.client.post("/sms/inbound", data=form).status_code
        return message_id

    def send(self, text: str) -> list[str]:
        """Text the gateway; returns the replies that arrive."""
        self.post(text)
        return self.replies()

    def replies(self) -> list[str]:
        """Run the workers, then return the messages to this phone not seen before."""
        from sqlalchemy import select

        from gateway.messaging.models import Message

        self.run_jobs()
        with self.runtime.sessions() as session:
            rows = session.scalars(select(Message).order_by(Message.created_at)).all()
            new = [
                m
                for m in rows
                if m.id not in self.seen
                and self.runtime.cipher.decrypt(m.to_encrypted) == self.number
            ]
        self.seen.update(m.id for m in new)
        return [m.body for m in new]
