"""USSD conversations over Africa's Talking.

AT posts every step of a session to the same callback with ``text`` holding all inputs so far,
joined by ``*``. The new input is what ``text`` added since the previous request of the same
session: splitting on ``*`` would break a free-text answer that contains one. A request whose
``text`` equals the previous one is AT re-sending it: it gets the same screen and changes nothing.

Reserved inputs on every question: ``98`` shows the next page of a long menu, ``0`` goes back one
question, and on the very first screen ``9`` (``99`` when the first question has nine options or
more) switches to the flow's other language.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from flows import (
    AnswerRecorded,
    Flow,
    QuestionAsked,
    RunEnded,
    RunStatus,
    Step,
    back,
    resume,
    show,
    start,
    switch_language,
)
from handlers.phone import normalise_phone
from handlers.ports import Channel, RunRecord, Services, UssdMode, UssdSession
from handlers.screens import BACK, MORE, Page, end, paged

MAX_TEXT = 2000
"""Longest ``text`` accepted: a whole survey typed on a handset is far shorter."""

UNAVAILABLE = {
    "fr": "Service momentanement indisponible. Merci de reessayer plus tard.",
    "en": "Service temporarily unavailable. Please try again later.",
}
BAD_NUMBER = "Numero de telephone non reconnu. / Phone number not recognised."


@dataclass(frozen=True, slots=True)
class UssdRequest:
    """One AT USSD callback, parsed and normalised."""

    session_id: str
    service_code: str
    phone: str
    network_code: str
    text: str


@dataclass(frozen=True, slots=True)
class BadUssdRequest:
    """A callback that cannot be served; ``screen`` is what the caller sees."""

    problem: str
    screen: str


def parse_ussd(form: Mapping[str, str], default_region: str) -> UssdRequest | BadUssdRequest:
    """Check and normalise AT's form fields."""
    missing = [name for name in ("sessionId", "phoneNumber") if not form.get(name, "").strip()]
    if missing:
        return BadUssdRequest(f"missing field(s): {', '.join(missing)}", end(UNAVAILABLE["fr"]))
    session_id = form["sessionId"].strip()
    text = form.get("text", "")
    if len(session_id) > 128 or len(text) > MAX_TEXT:
        return BadUssdRequest("field too long", end(UNAVAILABLE["fr"]))
    phone = normalise_phone(form["phoneNumber"], default_region)
    if phone is None:
        return BadUssdRequest("phoneNumber is not a phone number", end(BAD_NUMBER))
    return UssdRequest(
        session_id=session_id,
        service_code=form.get("serviceCode", "")[:32],
        phone=phone,
        network_code=form.get("networkCode", "")[:16],
        text=text,
    )


def new_input(previous: str, text: str) -> str | None:
    """What ``text`` adds to ``previous`` (None when it does not extend it)."""
    if previous == "":
        return text
    if text.startswith(previous + "*"):
        return text[len(previous) + 1 :]
    return None


def handle_ussd(request: UssdRequest, flow: Flow, services: Services) -> str:
    """Serve one USSD step: the reply screen, ``CON ...`` or ``END ...``."""
    respondent = services.pseudonymise(request.phone)
    store = services.store
    with store.lock(respondent):
        session = store.load_session(request.session_id)
        if session is not None and request.text == session.last_text:
            return session.reply
        conversation = _Conversation(request, flow, services, respondent)
        if session is None:
            # An unknown session with text already typed (our record expired, or a direct dial
            # like *384*123*1#) starts afresh: the caller sees the first screen, not an error.
            session = conversation.begin()
        else:
            typed = new_input(session.last_text, request.text)
            session = session if typed is None else conversation.step(session, typed)
        session = replace(session, last_text=request.text)
        store.save_session(session)
        return session.reply


class _Conversation:
    """The steps of one request; holds what every step needs."""

    def __init__(self, request: UssdRequest, flow: Flow, services: Services, respondent: str):
        self.request = request
        self.flow = flow
        self.services = services
        self.store = services.store
        self.respondent = respondent

    def begin(self) -> UssdSession:
        flow, store = self.flow, self.store
        language = flow.language_or_default(store.language(self.respondent))
        if store.has_completed(flow.id, self.respondent):
            return self._session(None, UssdMode.ENDED, end(flow.text("already_done", language)))
        active = store.active_run(flow.id, self.respondent)
        now = self.services.now()
        if active is not None and active.state.is_active and active.state.expires_at > now:
            if active.state.seq > 0:
                return self._resume_menu(active, error=None)
            return self._show(active, show(flow, active.state), page=0)
        return self._start(language)

    def step(self, session: UssdSession, typed: str) -> UssdSession:
        if session.mode is UssdMode.ENDED:
            return session
        record = self.store.load_run(session.run_id) if session.run_id else None
        if record is None or not record.state.is_active:
            language = self.flow.language_or_default(self.store.language(self.respondent))
            return self._start(language) if record is None else session
        if session.mode is UssdMode.RESUME_MENU:
            return self._answer_resume_menu(record, typed.strip())
        return self._answer(session, record, typed)

    # -- survey steps -------------------------------------------------------------------

    def _start(self, language: str) -> UssdSession:
        services = self.services
        step = start(self.flow, run_id=services.new_id(), language=language, now=services.now())
        record = RunRecord(
            state=step.state,
            respondent=self.respondent,
            channel=Channel.USSD.value,
            phone_token=services.encrypt_phone(self.request.phone),
        )
        return self._show(record, step, page=0)

    def _answer(self, session: UssdSession, record: RunRecord, typed: str) -> UssdSession:
        flow, state, now = self.flow, record.state, self.services.now()
        choice = typed.strip()
        if choice == MORE and self._has_more(record, session.page):
            return self._show(record, show(flow, state), page=session.page + 1, save=False)
        if choice == BACK:
            return self._show(record, back(flow, state, now=now), page=0)
        if choice == _language_key(flow) and _on_first_screen(record):
            other = _next_language(flow, state.language)
            self.store.set_language(self.respondent, other)
            return self._show(record, switch_language(flow, state, other, now=now), page=0)
        return self._show(record, resume(flow, state, typed, now=now), page=0)

    def _show(self, record: RunRecord, step: Step, *, page: int, save: bool = True) -> UssdSession:
        """Keep the new run state, hand recorded answers to the workers, render the screen."""
        record = replace(record, state=step.state)
        if save:
            self.store.save_run(record)
            if any(isinstance(e, AnswerRecorded) for e in step.events):
                self.services.jobs.sync_run(step.state.run_id, step.state.seq)
        screen = step.screen
        if isinstance(screen, RunEnded):
            text = screen.text or self.flow.text("already_done", step.state.language)
            if screen.status is RunStatus.EXPIRED:
                return self._start(step.state.language)
            return self._session(record.state.run_id, UssdMode.ENDED, end(text))
        rendered = self._render(record, screen, page)
        return self._session(record.state.run_id, UssdMode.SURVEY, rendered, page=page)

    def _render(self, record: RunRecord, asked: QuestionAsked, page: int) -> str:
        return self._page(record, asked, page).text

    def _has_more(self, record: RunRecord, page: int) -> bool:
        screen = show(self.flow, record.state).screen
        return isinstance(screen, QuestionAsked) and self._page(record, screen, page).has_more

    def _page(self, record: RunRecord, asked: QuestionAsked, page: int) -> Page:
        flow, language = self.flow, record.state.language
        lines = [asked.error] if asked.error else []
        lines.append(asked.text)
        lines.extend(f"{c.number}. {c.label}" for c in asked.choices)
        if _on_first_screen(record) and len(flow.languages) > 1:
            other = _next_language(flow, language)
            lines.append(f"{_language_key(flow)}. {flow.languages[other]}")
        back_label = flow.text("back", language) if len(record.state.path) > 1 else None
        return paged(lines, page, more_label=flow.text("more", language), back_label=back_label)

    # -- resume menu ----------------------------------------------------------------------

    def _resume_menu(self, record: RunRecord, error: str | None) -> UssdSession:
        flow, language = self.flow, record.state.language
        lines = [error] if error else []
        lines += [
            flow.text("resume", language),
            f"1. {flow.text('resume_continue', language)}",
            f"2. {flow.text('resume_restart', language)}",
        ]
        screen = paged(lines, 0, more_label=flow.text("more", language), back_label=None).text
        return self._session(record.state.run_id, UssdMode.RESUME_MENU, screen)

    def _answer_resume_menu(self, record: RunRecord, choice: str) -> UssdSession:
        if choice == "1":
            return self._show(record, show(self.flow, record.state), page=0, save=False)
        if choice == "2":
            return self._start(record.state.language)
        return self._resume_menu(record, error=self.flow.text("invalid", record.state.language))

    def _session(
        self, run_id: str | None, mode: UssdMode, reply: str, *, page: int = 0
    ) -> UssdSession:
        return UssdSession(
            session_id=self.request.session_id,
            respondent=self.respondent,
            flow_id=self.flow.id,
            run_id=run_id,
            mode=mode,
            page=page,
            last_text=self.request.text,
            reply=reply,
        )


def _on_first_screen(record: RunRecord) -> bool:
    return record.state.seq == 0 and len(record.state.path) == 1


def _language_key(flow: Flow) -> str:
    first = flow.questions[0]
    return "9" if len(first.options) < 9 else "99"


def _next_language(flow: Flow, language: str) -> str:
    codes = list(flow.languages)
    index = codes.index(language) if language in codes else -1
    return codes[(index + 1) % len(codes)]
