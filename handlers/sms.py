"""SMS conversations: keywords, and surveys one question per message.

An inbound SMS is routed by its first word (case and accents ignored), at any point:
``STOP``/``ARRET`` opts out of everything, ``START``/``REPRENDRE`` opts back in,
``DELETE``/``EFFACER`` erases the respondent's data, ``AIDE``/``HELP`` sends help,
``EN``/``FR``/``LANGUE EN`` switches language, ``SUITE``/``CONTINUE`` repeats the current
question, and a flow's own keywords (``ENQUETE``, ``INSCRIPTION``...) start it. A report
flow's keyword (``FMP``, ``SITE``) and ``ANNULER``/``CANCEL`` are an approved enumerator's
only: anyone else gets the help text (see ``handlers.reports``). Anything else answers the
respondent's current question, whichever channel the run started on.

Nothing is sent from here: replies are handed to the workers as ``Reply`` values, and an
opted-out number gets none (but the confirmation of its own STOP).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta

from flows import (
    AnswerRecorded,
    Flow,
    InputRejected,
    QuestionType,
    RunEnded,
    RunStatus,
    Step,
    resume,
    show,
    start,
    switch_language,
)
from flows.sms_compose import CONFIRMATION_TEXT, question_sms, sms_text
from handlers.ports import Channel, Reply, RunRecord, Services
from handlers.reports import REFUSED_TEXT, WITHDRAW_WORDS, with_reference
from handlers.sms_request import KEYWORDS, InboundSms, Keyword, asked_language, first_word

PAUSE_AFTER = 3
"""Invalid answers in a row after which the run pauses instead of asking again."""


def handle_sms(
    sms: InboundSms, flows: Mapping[str, Flow], default_flow: Flow, services: Services
) -> None:
    """Route one inbound SMS: act on a keyword, or answer the current question."""
    respondent = services.pseudonymise(sms.phone)
    with services.store.lock(respondent):
        _Conversation(sms, flows, default_flow, services, respondent).route()


def start_survey_by_sms(
    phone: str,
    flow: Flow,
    services: Services,
    *,
    key: str,
    language: str | None = None,
    reminder_count: int | None = None,
    reminder_interval: timedelta | None = None,
    expiry: timedelta | None = None,
    again: bool = False,
) -> str | None:
    """Start ``flow`` for ``phone`` by SMS, as if the household had texted its keyword.

    Returns the run's id. The first question goes out as the Reply keyed ``{key}-1``, so a
    second call with the same key (a retried job) finds the run the first one started and
    sends nothing new. A respondent already in a run of the flow gets its current question and
    that run's id; one who completed the flow gets nothing, and None. ``language`` is used when
    the respondent never chose one; the reminders and ``expiry`` override the flow's for a new
    run. With ``again`` (a repeating campaign's wave) a respondent who completed the flow
    before is asked it again: the caller knows this invitation was not sent yet. The caller
    checks opt-outs.
    """
    respondent = services.pseudonymise(phone)
    with services.store.lock(respondent):
        if not again and services.store.has_completed(flow.id, respondent):
            return None
        invitation = InboundSms(message_id=key, phone=phone, text="", received_at=services.now())
        conversation = _Conversation(invitation, {flow.id: flow}, flow, services, respondent)
        conversation.language = flow.language_or_default(
            services.store.language(respondent) or language
        )
        return conversation.start_run(
            flow,
            reminder_count=reminder_count,
            reminder_interval=reminder_interval,
            expiry=expiry,
        )


class _Conversation:
    """The handling of one inbound SMS."""

    def __init__(
        self,
        sms: InboundSms,
        flows: Mapping[str, Flow],
        default_flow: Flow,
        services: Services,
        respondent: str,
    ) -> None:
        self.sms = sms
        self.flows = flows
        self.default_flow = default_flow
        self.services = services
        self.store = services.store
        self.respondent = respondent
        self.phone_token = services.encrypt_phone(sms.phone)
        self.replies = 0
        self.language = default_flow.language_or_default(self.store.language(respondent))

    def route(self) -> None:
        word = first_word(self.sms.text)
        keyword = KEYWORDS.get(word)
        if keyword is Keyword.START:
            return self._opt_in()
        opted_out = self.store.is_opted_out(self.respondent)
        if keyword is Keyword.DELETE:
            # Erasure is a right whatever the opt-out; an opted-out number is just not told.
            return self._erase(confirm=not opted_out)
        if opted_out:
            return  # silence until START, even for STOP sent again
        if keyword is Keyword.STOP:
            return self._opt_out()
        if keyword is Keyword.HELP:
            return self._reply("help", self._system_text("help"))
        if keyword is Keyword.LANGUAGE:
            return self._switch_language()
        if keyword is Keyword.CONTINUE:
            return self._continue()
        if word in WITHDRAW_WORDS:
            return self._withdraw()
        flow = self._flow_of_keyword(word)
        if flow is not None and not self._awaits_text():
            return self._start(flow)
        return self._answer()

    # -- keywords --------------------------------------------------------------------------

    def _opt_in(self) -> None:
        was_out = self.store.is_opted_out(self.respondent)
        self.store.set_opted_out(self.respondent, False)
        if was_out:
            self.services.jobs.record_opt_out(self.respondent, False, self.sms.received_at)
        self._reply("opt_in", self._system_text("started"))

    def _opt_out(self) -> None:
        self.store.set_opted_out(self.respondent, True)
        self.services.jobs.record_opt_out(self.respondent, True, self.sms.received_at)
        self._reply("opt_out", self._system_text("stopped"))

    def _erase(self, *, confirm: bool) -> None:
        body = erasure_confirmation(self.default_flow, self.language) if confirm else ""
        self.store.forget(self.respondent)
        self.services.jobs.erase_respondent(self.respondent, self.phone_token, body)

    def _switch_language(self) -> None:
        wanted = asked_language(self.sms.text)
        if wanted not in self.default_flow.languages:
            return self._reply("help", self._system_text("help"))
        self.language = wanted
        self.store.set_language(self.respondent, wanted)
        record = self._active_run()
        if record is None:
            return self._reply("language", self._system_text("language_set"))
        flow = self.services.flow_of(self.flows[record.state.flow_id], record.state)
        now = self.sms.received_at
        self._show(record, switch_language(flow, record.state, wanted, now=now))

    def _continue(self) -> None:
        record = self._active_run()
        if record is None:
            return self._reply("help", self._system_text("help"))
        flow = self.services.flow_of(self.flows[record.state.flow_id], record.state)
        # Asking again clears a pause: the count of wrong answers starts over.
        state = replace(record.state, invalid_count=0)
        self._show(replace(record, state=state), show(flow, state))

    def _start(self, flow: Flow) -> None:
        if flow.is_report:
            code = self.store.enumerator_code(self.respondent)
            if code is None:
                # Not an enumerator: the keyword is just a word to them, and nothing is kept.
                return self._reply("help", self._system_text("help"))
            self.start_run(flow, enumerator=code)
            return None
        if self.store.has_completed(flow.id, self.respondent):
            return self._reply("already_done", flow.text("already_done", self.language))
        self.start_run(flow)

    def _withdraw(self) -> None:
        code = self.store.enumerator_code(self.respondent)
        if code is None:
            return self._reply("help", self._system_text("help"))
        typed = " ".join(self.sms.text.split()[1:])
        self.replies += 1
        reply = Reply(
            key=f"{self.sms.message_id}-{self.replies}",
            respondent=self.respondent,
            phone_token=self.phone_token,
            kind="report_withdrawal",
            body="",
        )
        self.services.jobs.withdraw_report(reply, code, typed, self.language, self.sms.received_at)

    def start_run(
        self,
        flow: Flow,
        *,
        reminder_count: int | None = None,
        reminder_interval: timedelta | None = None,
        expiry: timedelta | None = None,
        enumerator: str | None = None,
    ) -> str:
        """Ask the first question of a new run, or the current one of an active run; its id.

        ``enumerator`` is the code of the enumerator whose report the run is."""
        record = self.store.active_run(flow.id, self.respondent)
        if record is not None and record.state.is_active:
            self._show(record, show(self.services.flow_of(flow, record.state), record.state))
            return record.state.run_id
        step = start(
            flow,
            run_id=self.services.new_id(),
            language=self.language,
            now=self.sms.received_at,
        )
        if expiry is not None:
            expires_at = step.state.started_at + expiry
            step = replace(step, state=replace(step.state, expires_at=expires_at))
        record = RunRecord(
            state=step.state,
            respondent=self.respondent,
            channel=Channel.SMS.value,
            phone_token=self.phone_token,
            reminder_count=reminder_count,
            reminder_interval=reminder_interval,
            enumerator=enumerator,
        )
        self._show(record, step)
        return step.state.run_id

    # -- answers ---------------------------------------------------------------------------

    def _answer(self) -> None:
        record = self._active_run()
        if record is None:
            if self.store.claim_help(self.respondent):
                self._reply("help", self._system_text("help"))
            return
        flow = self.services.flow_of(self.flows[record.state.flow_id], record.state)
        if flow.is_report and self.store.enumerator_code(self.respondent) is None:
            # Revoked since the report began: the run ends here, unstored.
            return self._refuse(record, flow)
        self._show(record, resume(flow, record.state, self.sms.text, now=self.sms.received_at))

    def _refuse(self, record: RunRecord, flow: Flow) -> None:
        state = replace(record.state, status=RunStatus.EXPIRED, current=None, ending="expired")
        self.store.save_run(replace(record, state=state))
        self._reply("report_refused", flow.text(REFUSED_TEXT, state.language))

    def _show(self, record: RunRecord, step: Step) -> None:
        """Keep the run, hand answers to the workers, and send what the respondent must see."""
        record = replace(record.answered_on(Channel.SMS), state=step.state)
        self.store.save_run(record)
        self._send_screen(record, step)
        # After the reply: the confirmation a completed run gets should arrive second.
        if any(isinstance(e, AnswerRecorded) for e in step.events):
            self.services.jobs.sync_run(step.state.run_id, step.state.seq)

    def _send_screen(self, record: RunRecord, step: Step) -> None:
        state = step.state
        flow = self.services.flow_of(self.flows[state.flow_id], state)
        screen = step.screen
        if isinstance(screen, RunEnded):
            # A completed survey's thanks would come twice over SMS: the workers' confirmation
            # (with the reference) says it too, and each SMS costs the programme.
            confirmed = screen.ending == "completed" and CONFIRMATION_TEXT in flow.texts
            if screen.text and not confirmed:
                text = with_reference(flow, state.run_id, screen.text, self.services)
                self._reply(f"end_{screen.ending}", text)
            return
        rejected = any(isinstance(e, InputRejected) for e in step.events)
        if rejected and state.invalid_count > PAUSE_AFTER:
            return  # paused: silence until a valid answer or SUITE
        if rejected and state.invalid_count == PAUSE_AFTER:
            return self._reply(
                "paused", _text_of(flow, self.default_flow, "paused", state.language)
            )
        self._reply("question", question_sms(screen))
        reminders, interval = record.reminders(flow)
        if reminders > 0:
            self.services.jobs.remind(state.run_id, state.seq, 1, interval)

    # -- helpers -----------------------------------------------------------------------------

    def _active_run(self) -> RunRecord | None:
        """The respondent's most recently used unfinished run, of any flow."""
        found = [
            record
            for flow_id in self.flows
            if (record := self.store.active_run(flow_id, self.respondent)) is not None
            and record.state.is_active
            and record.state.expires_at > self.sms.received_at
        ]
        return max(found, key=lambda r: r.state.updated_at, default=None)

    def _awaits_text(self) -> bool:
        """Whether the respondent's current run waits for free text: a flow's keyword is then
        the start of an answer ("Site Sossokoira" to a site's name, whichever flow asks it).
        The gateway's own keywords (STOP, EFFACER, AIDE...) still work at any point."""
        record = self._active_run()
        if record is None or record.state.current is None:
            return False
        flow = self.flows.get(record.state.flow_id)
        if flow is None:
            return False
        current = self.services.flow_of(flow, record.state).question(record.state.current)
        return current.type is QuestionType.TEXT

    def _flow_of_keyword(self, word: str) -> Flow | None:
        return next((f for f in self.flows.values() if word and word in f.keywords), None)

    def _system_text(self, name: str) -> str:
        return _text_of(self.default_flow, self.default_flow, name, self.language)

    def _reply(self, kind: str, body: str) -> None:
        self.replies += 1
        self.services.jobs.send_sms(
            Reply(
                key=f"{self.sms.message_id}-{self.replies}",
                respondent=self.respondent,
                phone_token=self.phone_token,
                kind=kind,
                body=sms_text(body),
            )
        )


def erasure_confirmation(default_flow: Flow, language: str | None) -> str:
    """The SMS confirming DELETE/EFFACER. It goes straight to the phone and is not kept: the
    erasure leaves nothing about the number behind, this message included."""
    chosen = default_flow.language_or_default(language)
    return sms_text(_text_of(default_flow, default_flow, "deleted", chosen))


def _text_of(flow: Flow, fallback: Flow, name: str, language: str) -> str:
    source = flow if flow.has_text(name) else fallback
    return source.text(name, source.language_or_default(language))
