"""``survey-gateway outbox`` as staff read it at a terminal: 100 columns, nothing passed through."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import update

from gateway.cli.main import cli
from gateway.core.runtime import Runtime
from gateway.core.settings import Settings
from gateway.messaging.models import Message, MessageStatus
from gateway.surveys.persistence import create_message

QUESTION = (
    "Non compris: envoyez un numéro.\n1.Kayes\n2.Koulikoro\n3.Sikasso\n4.Ségou\n5.Mopti\n"
    "6.Tombouctou\n7.Gao\n8.Kidal\n9.Ménaka\n10.Taoudénit\n11.Bamako\n12.Autre"
)
# What a hostile or broken body could hold: a screen clear, a colour, a carriage return that
# would overwrite the line, a right-to-left override, a bell.
HOSTILE = "ok\x1b[2J\x1b[31mred\rgone\u202eevil\x07 back\\slash"


def outbox(settings: Settings, *args: str) -> str:
    env = {"GATEWAY_VAR_DIR": str(settings.var_dir), "DATABASE_URL": settings.database_url}
    result = CliRunner().invoke(cli, ["outbox", *args], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def add(runtime: Runtime, body: str, *, kind: str = "question", error: str | None = None) -> None:
    with runtime.sessions.begin() as session:
        message = create_message(
            session,
            submission_id=None,
            respondent_id="r" * 64,
            kind=kind,
            to_e164="+22376123456",
            body=body,
            cipher=runtime.cipher,
        )
        session.flush()
        session.execute(
            update(Message)
            .where(Message.id == message.id)
            .values(
                status=MessageStatus.FAILED if error else MessageStatus.SENT,
                provider_id="ATXid_" + "7" * 40,
                error=error,
            )
        )


def test_the_outbox_fits_in_100_columns(runtime: Runtime, settings: Settings) -> None:
    add(runtime, QUESTION)
    add(runtime, "x" * 300, error="InsufficientBalance: " + "the account has no credit left " * 6)

    shown = outbox(settings)

    assert max(len(line) for line in shown.splitlines()) <= 100
    assert "+22376****56  question  sent" in shown
    assert "76123456" not in shown
    # The body is kept whole, its line breaks written as \n, and the error follows it.
    assert "Non compris: envoyez un numéro.\\n1.Kayes\\n2.Koulikoro" in shown
    assert "error: InsufficientBalance: the account has no credit left" in shown
    assert "AT id: ATXid_7777" in shown


def test_control_characters_in_a_body_are_shown_escaped(
    runtime: Runtime, settings: Settings
) -> None:
    add(runtime, HOSTILE, kind="reply\x1b]0;pwned\x07", error="bad\x1b[0m\nline")

    shown = outbox(settings)

    assert all(c.isprintable() or c == "\n" for c in shown), repr(shown)
    assert "ok\\x1b[2J\\x1b[31mred\\rgone\\u202eevil\\x07 back\\\\slash" in shown
    assert "reply\\x1b]0;pwned\\x07" in shown
    assert "error: bad\\x1b[0m\\nline" in shown
