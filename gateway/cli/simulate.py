"""``survey-gateway simulate``: a pretend phone in the terminal, talking to a running gateway.

Each command posts to the gateway exactly what Africa's Talking would post, and shows the
gateway's answer the way a handset would show it.
"""

from __future__ import annotations

import sys
import textwrap
import time
import uuid
from collections.abc import Mapping, Sequence

import click
import requests
from sqlalchemy import Engine

from gateway.cli.data import gateway_database
from gateway.cli.errors import BadSetup, CommandError
from gateway.core.settings import Settings
from gateway.processes.local_http import gateway_url, http_session
from gateway.surveys.simulator_numbers import SIMULATOR_NETWORK, SIMULATOR_SHORTCODE

SIMULATOR_PHONE = "+22370000001"
SIMULATOR_TIMEOUT_S = 15.0
SCREEN_WIDTH = 44
SMS_WAIT_S = 8.0
SMS_SETTLE_S = 1.5


@click.group()
def simulate() -> None:
    """Try the gateway from the terminal, as a phone would."""


@simulate.command("ussd")
@click.option(
    "--url",
    help="The running gateway. [default: the one `run` started here, or http://127.0.0.1:$PORT]",
)
@click.option("--phone", default=SIMULATOR_PHONE, show_default=True, help="The caller's number.")
def simulate_ussd(url: str | None, phone: str) -> None:
    """Dial the USSD code from a pretend phone and answer the survey by typing.

    Type the number of your choice and Enter. `/hangup` drops the call without telling the
    gateway (dial again to see the survey resume); Ctrl-D quits.
    """
    from handlers.phone import mask_phone

    settings = Settings.from_env()
    base = _base_url(url, settings)
    phone = _as_at_sends(phone, settings)
    phone_shown = mask_phone(phone)
    echo_input = not sys.stdin.isatty()
    with http_session(base) as http:
        while True:
            session_id = "sim-" + uuid.uuid4().hex
            click.echo(f"\nDialling {settings.ussd_code} from {phone_shown}…")
            inputs: list[str] = []
            while True:
                reply = _post_ussd(http, base, settings.ussd_code, phone, session_id, inputs)
                ended = not reply.startswith("CON ")
                click.echo(_box(_screen_text(reply)))
                if ended:
                    break
                line = _read_line("> ", echo_input)
                if line is None:
                    return
                if line.strip() == "/hangup":
                    # AT would tell the gateway through /ussd/events; a dropped call may not.
                    click.echo("(hung up; the gateway was not told)")
                    break
                inputs.append(line)
            again = _read_line("Dial again? [y/N] ", echo_input)
            if again is None or again.strip().lower() not in ("y", "yes", "o", "oui"):
                return


@simulate.command("sms")
@click.option(
    "--url",
    help="The running gateway. [default: the one `run` started here, or http://127.0.0.1:$PORT]",
)
@click.option("--phone", default=SIMULATOR_PHONE, show_default=True, help="The sender's number.")
@click.option(
    "--wait",
    default=SMS_WAIT_S,
    show_default=True,
    help="Seconds to wait for replies after each message.",
)
def simulate_sms(url: str | None, phone: str, wait: float) -> None:
    """Text the gateway from a pretend phone and read the replies as they arrive.

    Each line you type is posted as an inbound SMS, exactly as AT posts it. Replies are sent
    by the workers; they are read back from the outbox of this machine's database (the same
    var folder as `survey-gateway run`). Try ENQUETE, AIDE, STOP. Ctrl-D quits.
    """
    from handlers.phone import mask_phone

    settings = Settings.from_env()
    base = _base_url(url, settings)
    phone = _as_at_sends(phone, settings)
    echo_input = not sys.stdin.isatty()
    texts = _SystemTexts(settings)
    with gateway_database(settings) as engine, http_session(base) as http:
        inbox = _Inbox(engine, settings, phone)
        click.echo(
            f"Texting {settings.at_shortcode or SIMULATOR_SHORTCODE} from {mask_phone(phone)}."
        )
        click.echo("Send ENQUETE to take the survey, AIDE for help; Ctrl-D quits.")
        while True:
            line = _read_line("> ", echo_input)
            if line is None:
                return
            if not line.strip():
                continue
            form = {
                "from": phone,
                "to": settings.at_shortcode or SIMULATOR_SHORTCODE,
                "text": line,
                "date": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
                "id": "sim-" + uuid.uuid4().hex,
                "linkId": "",
                "networkCode": SIMULATOR_NETWORK,
            }
            response = _post_form(http, base, "/sms/inbound", form)
            if response.status_code != 200:
                click.echo(f"(the gateway answered HTTP {response.status_code}: {response.text})")
                continue
            texts.follow(line)
            if texts.erases(line):
                # The confirmation of an erasure is sent straight to the phone and, like all
                # else about the number, not kept: there is no outbox row to wait for.
                inbox.wait_for_erasure(wait)
                click.echo("(sent straight to the phone; an erasure keeps nothing, this included)")
                click.echo(_box(texts.erasure_confirmation()))
                continue
            replies = inbox.wait_for_new(wait)
            if not replies:
                click.echo("(no reply)")
            for reply in replies:
                click.echo(_box(reply))


class _SystemTexts:
    """The gateway's own SMS that the outbox does not keep, in the language the phone chose."""

    def __init__(self, settings: Settings) -> None:
        from flows import load_flows

        flows = load_flows(settings.flows_dir)
        if settings.ussd_flow not in flows:
            raise BadSetup(
                f"GATEWAY_USSD_FLOW names '{settings.ussd_flow}', which no flow file defines"
            )
        self.flow = flows[settings.ussd_flow]
        self.language: str | None = None

    def follow(self, line: str) -> None:
        """Note a language the phone switches to (EN, FR, LANGUE EN), as the gateway does."""
        from handlers.sms_request import asked_language

        wanted = asked_language(line)
        if wanted in self.flow.languages:
            self.language = wanted

    def erases(self, line: str) -> bool:
        from handlers.sms_request import KEYWORDS, Keyword, first_word

        return KEYWORDS.get(first_word(line)) is Keyword.DELETE

    def erasure_confirmation(self) -> str:
        from handlers.sms import erasure_confirmation

        return erasure_confirmation(self.flow, self.language)


class _Inbox:
    """The messages the gateway sent (or recorded) to one number, read from the outbox."""

    def __init__(self, engine: Engine, settings: Settings, phone: str) -> None:
        from gateway.core.crypto import pseudonymise
        from gateway.core.db import make_sessionmaker

        self.respondent = pseudonymise(phone, settings.secret_key)
        self.sessions = make_sessionmaker(engine)
        self.seen = set(self._ids())

    def _ids(self) -> list[str]:
        from sqlalchemy import select

        from gateway.messaging.models import Message

        with self.sessions() as session:
            query = select(Message.id).where(Message.respondent_id == self.respondent)
            return list(session.scalars(query))

    def wait_for_erasure(self, wait_s: float) -> None:
        """Wait, ``wait_s`` at most, until the number's messages are gone from the outbox."""
        deadline = time.monotonic() + wait_s
        while self._ids() and time.monotonic() < deadline:
            time.sleep(0.2)
        self.seen.clear()

    def wait_for_new(self, wait_s: float) -> list[str]:
        """Bodies of messages that appear within ``wait_s`` (and shortly after the first)."""
        from sqlalchemy import select

        from gateway.messaging.models import Message

        deadline = time.monotonic() + wait_s
        found: list[str] = []
        while time.monotonic() < deadline:
            with self.sessions() as session:
                rows = session.scalars(
                    select(Message)
                    .where(Message.respondent_id == self.respondent)
                    .order_by(Message.created_at)
                ).all()
                new = [m for m in rows if m.id not in self.seen]
            for message in new:
                self.seen.add(message.id)
                found.append(message.body)
            if new:
                # Follow-ups (an end text, then its confirmation) come close together: once
                # one reply is here, wait a little for the others, not the whole time.
                deadline = min(deadline, time.monotonic() + SMS_SETTLE_S)
            time.sleep(0.2)
        return found


def _base_url(url: str | None, settings: Settings) -> str:
    """The gateway to talk to: ``--url``, else the one ``run`` started on this machine."""
    return (url or gateway_url(settings)).rstrip("/")


def _as_at_sends(phone: str, settings: Settings) -> str:
    """The number as AT posts it: international form, or as typed when it cannot be one."""
    from handlers.phone import normalise_phone

    # AT always sends the international form; a number it cannot be is sent as typed, to see
    # what the gateway does with it.
    return normalise_phone(phone, settings.phone_region) or phone.strip()


def _post_form(
    http: requests.Session, base: str, path: str, form: Mapping[str, str]
) -> requests.Response:
    """Post ``form`` to the gateway at ``base + path``; unreachable or silent is an error."""
    try:
        return http.post(f"{base}{path}", data=form, timeout=SIMULATOR_TIMEOUT_S)
    except requests.ConnectionError:
        raise CommandError(
            f"cannot reach the gateway at {base}: is `make run` (survey-gateway run) running? "
            "If it runs on another port or machine, give its address with --url, "
            "e.g. --url http://127.0.0.1:8080"
        ) from None
    except requests.Timeout:
        raise CommandError(
            f"the gateway at {base} did not answer within {SIMULATOR_TIMEOUT_S:.0f} s"
        ) from None


def _post_ussd(
    http: requests.Session,
    base: str,
    service_code: str,
    phone: str,
    session_id: str,
    inputs: Sequence[str],
) -> str:
    """One step, posted exactly as Africa's Talking posts it; the gateway's reply text."""
    form = {
        "sessionId": session_id,
        "serviceCode": service_code,
        "phoneNumber": phone,
        "networkCode": SIMULATOR_NETWORK,
        "text": "*".join(inputs),
    }
    response = _post_form(http, base, "/ussd", form)
    if response.status_code != 200:
        # AT shows the caller an error for any non-200 answer, whatever the body says.
        click.echo(f"(the gateway answered HTTP {response.status_code}; AT would drop the call)")
        text = response.text
        return text if text.startswith("END ") else "END " + text
    return response.text


def _screen_text(reply: str) -> str:
    if reply.startswith(("CON ", "END ")):
        return reply[4:]
    return f"(not a USSD reply: no CON/END prefix)\n{reply}"


def _box(text: str) -> str:
    """The screen in a frame, wrapped about as narrow as a handset's."""
    lines: list[str] = []
    for line in text.splitlines() or [""]:
        lines.extend(textwrap.wrap(line, SCREEN_WIDTH) or [""])
    rule = "+" + "-" * (SCREEN_WIDTH + 2) + "+"
    body = [f"| {line:<{SCREEN_WIDTH}} |" for line in lines]
    return "\n".join([rule, *body, rule])


def _read_line(prompt: str, echo: bool) -> str | None:
    """A line from stdin (a terminal or a pipe), or None at end of input."""
    try:
        line = input(prompt)
    except EOFError:
        click.echo()
        return None
    if echo:
        # Piped input is not echoed by a terminal: show it, so the transcript reads right.
        click.echo(line)
    return line
