"""USSD conversations over Africa's Talking.

AT posts every step of a session to the same callback with ``text`` holding all inputs so far,
joined by ``*``. The new input is what ``text`` added since the previous request of the same
session: splitting on ``*`` would break a free-text answer that contains one. A request whose
``text`` equals the previous one is AT re-sending it, and one that does not extend it is an
earlier request arriving late: both get the current screen and change nothing.

Reserved inputs on every question: ``98`` shows the next page of a long menu, ``0`` goes back one
question, and on the very first screen ``9`` (``99`` when the first question has nine options or
more) switches to the flow's other language.

An approved enumerator (the caller's pseudonym has an enumerator code) first sees a menu: survey
a household, whose number they type, see their code, or send a report (one entry per report
flow, named by the flow's name; see ``handlers.reports``). The household's run then goes exactly
as if the household had dialled, except that it is marked with the enumerator's code. The typed
number is kept only encrypted: the stored session text has it masked, and so has all the text
of a session whose first request we see already has text typed (it may hold a number).
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace

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
from flows.model import localise
from handlers.phone import normalise_phone
from handlers.ports import (
    Channel,
    Household,
    RateLimit,
    RunRecord,
    Services,
    UssdMode,
    UssdSession,
)
from handlers.reports import REFUSED_TEXT, with_reference
from handlers.screens import BACK, MORE, Page, end, paged
from handlers.ussd_request import UssdRequest, masked, new_input


def handle_ussd(
    request: UssdRequest, flow: Flow, services: Services, rate: RateLimit | None = None
) -> str:
    """Serve one USSD step: the reply screen, ``CON ...`` or ``END ...``.

    ``rate`` counts the step against the caller's limit; past it, ``OverLimit`` is raised
    before anything is read or changed.
    """
    caller = services.pseudonymise(request.phone)
    store = services.store
    with store.lock(caller, request.session_id, rate):
        session = store.load_session(request.session_id)
        text = masked(request.text, session.hidden if session else None)
        if session is not None and text == session.last_text:
            return session.reply
        conversation = _Conversation(request, flow, services, caller, session)
        if session is None:
            # An unknown session with text already typed (our record expired, or a direct dial
            # like *384*123*1#) starts afresh: the caller sees the first screen, not an error.
            # What was typed may hold a household's number (an enumerator's session whose
            # record expired): none of it is kept in clear.
            if request.text:
                conversation.hidden = (0, len(request.text))
            session = conversation.begin()
        else:
            typed = new_input(session.last_text, text)
            if typed is None:
                # Not the step after the last one: AT delivering an earlier request late. The
                # stored text only grows, or the next real step would be read against a
                # rewound text; the caller sees the current screen again.
                return session.reply
            session = conversation.step(session, typed)
        session = replace(session, last_text=masked(request.text, session.hidden))
        store.save_session(session)
        return session.reply


class _Conversation:
    """The steps of one request; holds what every step needs."""

    def __init__(
        self,
        request: UssdRequest,
        flow: Flow,
        services: Services,
        caller: str,
        session: UssdSession | None,
    ):
        self.request = request
        # The flow new runs start on; ``flow`` becomes the version a resumed run started on.
        self.latest = flow
        self.flow = flow
        self.services = services
        self.store = services.store
        self.caller = caller
        self.household = session.household if session else None
        self.hidden = session.hidden if session else None
        # A report the enumerator is sending: its flow is the one new runs start on.
        report = services.report_flow(session.flow_id) if session else None
        if report is not None:
            self.latest = self.flow = report

    @property
    def respondent(self) -> str:
        """Whose run this is: the household an enumerator surveys, else the caller."""
        return self.household.respondent if self.household else self.caller

    def begin(self) -> UssdSession:
        code = self._enumerator_code()
        if code is not None:
            return self._enumerator_menu(code, error=None)
        return self._begin_survey()

    def step(self, session: UssdSession, typed: str) -> UssdSession:
        if session.mode is UssdMode.ENDED:
            return session
        if session.mode is UssdMode.ENUMERATOR_MENU:
            return self._answer_enumerator_menu(typed.strip())
        if session.mode is UssdMode.HOUSEHOLD_PHONE:
            return self._answer_household_phone(typed)
        if self.latest.is_report and self._enumerator_code() is None:
            # Revoked since the report began: not one more answer is taken.
            language = self.flow.language_or_default(self.store.language(self.caller))
            return self._session(None, UssdMode.ENDED, end(self.flow.text(REFUSED_TEXT, language)))
        with self._household_lock():
            return self._step_survey(session, typed)

    # -- survey steps -------------------------------------------------------------------

    def _begin_survey(self) -> UssdSession:
        flow, store = self.flow, self.store
        language = flow.language_or_default(store.language(self.respondent))
        # An enumerator sends many reports of a flow; a household answers a survey once.
        if not flow.is_report and store.has_completed(flow.id, self.respondent):
            return self._session(None, UssdMode.ENDED, end(flow.text("already_done", language)))
        active = store.active_run(flow.id, self.respondent)
        now = self.services.now()
        if active is not None and active.state.is_active and active.state.expires_at > now:
            self.flow = self.services.flow_of(self.latest, active.state)
            if active.state.seq > 0:
                return self._resume_menu(active, error=None)
            return self._show(self._claim(active), show(flow, active.state), page=0)
        return self._start(language)

    def _step_survey(self, session: UssdSession, typed: str) -> UssdSession:
        record = self.store.load_run(session.run_id) if session.run_id else None
        if record is None or not record.state.is_active:
            language = self.flow.language_or_default(self.store.language(self.respondent))
            return self._start(language) if record is None else session
        self.flow = self.services.flow_of(self.latest, record.state)
        if session.mode is UssdMode.RESUME_MENU:
            return self._answer_resume_menu(record, typed.strip())
        return self._answer(session, record, typed)

    def _start(self, language: str) -> UssdSession:
        services, household = self.services, self.household
        self.flow = self.latest
        step = start(self.flow, run_id=services.new_id(), language=language, now=services.now())
        record = RunRecord(
            state=step.state,
            respondent=self.respondent,
            channel=Channel.USSD.value,
            # The confirmation goes to whoever the run is for: the household, not its enumerator.
            phone_token=(
                household.phone_token if household else services.encrypt_phone(self.request.phone)
            ),
            enumerator=household.enumerator if household else self._report_author(),
        )
        return self._show(record, step, page=0)

    def _report_author(self) -> str | None:
        """The code of the enumerator a report run is by (None for a household's own run)."""
        return self._enumerator_code() if self.flow.is_report else None

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
        record = replace(record.answered_on(Channel.USSD), state=step.state)
        if save:
            self.store.save_run(record)
            if any(isinstance(e, AnswerRecorded) for e in step.events):
                self.services.jobs.sync_run(step.state.run_id, step.state.seq)
        screen = step.screen
        if isinstance(screen, RunEnded):
            text = screen.text or self.flow.text("already_done", step.state.language)
            text = with_reference(self.flow, step.state.run_id, text, self.services)
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
            claimed = self._claim(record)
            step = show(self.flow, record.state)
            return self._show(claimed, step, page=0, save=claimed is not record)
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
            household=self.household,
            hidden=self.hidden,
        )

    # -- enumerators ----------------------------------------------------------------------

    def _enumerator_code(self) -> str | None:
        # Without the registration flow's texts there is no menu to show: everyone is a household.
        if self.services.enumerator_flow is None:
            return None
        return self.store.enumerator_code(self.caller)

    def _enumerator_texts(self) -> tuple[Flow, str]:
        texts = self.services.enumerator_flow
        assert texts is not None  # only reached once _enumerator_code found a code
        return texts, texts.language_or_default(self.store.language(self.caller))

    def _enumerator_menu(self, code: str, error: str | None) -> UssdSession:
        texts, language = self._enumerator_texts()
        lines = [error] if error else []
        lines += [
            texts.text("menu", language, code=code),
            f"1. {texts.text('menu_survey', language)}",
            f"2. {texts.text('menu_code', language)}",
        ]
        # Then one entry per report flow, by its name: 3, 4...
        lines += [
            f"{number}. {localise(report.name, language, report.default_language)}"
            for number, report in enumerate(self.services.report_flows, start=_FIRST_REPORT)
        ]
        screen = paged(lines, 0, more_label=texts.text("more", language), back_label=None).text
        return self._session(None, UssdMode.ENUMERATOR_MENU, screen)

    def _answer_enumerator_menu(self, choice: str) -> UssdSession:
        code = self._enumerator_code()
        if code is None:
            # Revoked while the menu was on screen: from now on the caller is a household.
            return self._begin_survey()
        texts, language = self._enumerator_texts()
        if choice == "1":
            return self._household_phone_prompt(error=None)
        if choice == "2":
            screen = end(texts.text("your_code", language, code=code))
            return self._session(None, UssdMode.ENDED, screen)
        report = _report_of_choice(self.services.report_flows, choice)
        if report is not None:
            self.latest = self.flow = report
            return self._begin_survey()
        return self._enumerator_menu(code, error=texts.text("invalid", language))

    def _household_phone_prompt(self, error: str | None) -> UssdSession:
        texts, language = self._enumerator_texts()
        lines = [error] if error else []
        lines.append(texts.text("household_phone", language))
        screen = paged(lines, 0, more_label=texts.text("more", language), back_label=None).text
        return self._session(None, UssdMode.HOUSEHOLD_PHONE, screen)

    def _answer_household_phone(self, typed: str) -> UssdSession:
        # Every attempt is masked in the stored text, wrong ones too: a typo is still a number.
        text = self.request.text
        first = self.hidden[0] if self.hidden else len(text) - len(typed)
        self.hidden = (first, len(text))
        code = self._enumerator_code()
        if code is None:
            return self._begin_survey()
        phone = normalise_phone(typed, self.services.phone_region)
        if phone is None:
            texts, language = self._enumerator_texts()
            return self._household_phone_prompt(error=texts.text("bad_phone", language))
        self.household = Household(
            respondent=self.services.pseudonymise(phone),
            phone_token=self.services.encrypt_phone(phone),
            enumerator=code,
        )
        with self._household_lock():
            return self._begin_survey()

    def _household_lock(self) -> AbstractContextManager[None]:
        # The household may be dialling too, or another enumerator surveying it.
        if self.household is None or self.household.respondent == self.caller:
            return nullcontext()
        return self.store.lock(self.household.respondent)

    def _claim(self, record: RunRecord) -> RunRecord:
        """The run, marked with the enumerator's code when one takes over an unmarked run."""
        if self.household is None or record.enumerator is not None:
            return record
        return replace(record, enumerator=self.household.enumerator)


_FIRST_REPORT = 3
"""The enumerator menu's number of its first report flow (after survey and code)."""


def _report_of_choice(reports: tuple[Flow, ...], choice: str) -> Flow | None:
    if not choice.isdecimal() or len(choice) > 2:
        return None
    index = int(choice) - _FIRST_REPORT
    return reports[index] if 0 <= index < len(reports) else None


def _on_first_screen(record: RunRecord) -> bool:
    return record.state.seq == 0 and len(record.state.path) == 1


def _language_key(flow: Flow) -> str:
    first = flow.questions[0]
    return "9" if len(first.options) < 9 else "99"


def _next_language(flow: Flow, language: str) -> str:
    codes = list(flow.languages)
    index = codes.index(language) if language in codes else -1
    return codes[(index + 1) % len(codes)]
