"""The staff interface's languages, French (the default) and English, and saying a text in them.

The texts themselves are in ``gateway.core.texts``. A text is looked up by key in the
session's language (``gateway.web.dashboard.base.t``); a key missing in one language falls back to
French, then to the key itself, so a page never breaks over a text. Placeholders are
``str.format`` fields: ``{name}``. A test checks both languages have every key.

The campaign domain says why it refuses something as a ``Translatable`` (a key and its
values), not as text: the API and the CLI give it in English, the dashboard in the reader's
language.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.core.texts import TEXTS

LANGUAGES: tuple[str, ...] = ("fr", "en")
DEFAULT_LANGUAGE = "fr"


@dataclass(frozen=True, slots=True, init=False)
class Translatable:
    """A text to be read in the reader's language: its key and the values that fill it in.

    A value may itself be a ``Translatable`` (a campaign's status), said in the same language.
    """

    key: str
    values: dict[str, Any]

    def __init__(self, key: str, /, **values: Any) -> None:
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "values", values)

    def in_language(self, language: str) -> str:
        """The text in ``language``, filled in."""
        return translate(language, self.key, **self.values)


# Languages that write 0,5 for a half.
DECIMAL_COMMA = frozenset({"fr"})


def translate(language: str, key: str, **values: Any) -> str:
    """The text ``key`` in ``language`` (French, then the key, when missing), filled in."""
    text = TEXTS.get(language, {}).get(key) or TEXTS[DEFAULT_LANGUAGE].get(key) or key
    if not values:
        return text
    said = {k: _said(v, language) for k, v in values.items()}
    return text.format(**said)


def _said(value: Any, language: str) -> Any:
    """A value as the reader writes it: a Translatable in their language, a decimal with their
    separator (0,5 in French)."""
    if isinstance(value, Translatable):
        return value.in_language(language)
    if isinstance(value, float):
        written = format(value, "g")
        return written.replace(".", ",") if language in DECIMAL_COMMA else written
    return value


def missing_keys() -> dict[str, list[str]]:
    """Per language, the keys another language has and it lacks (empty when complete)."""
    every = set().union(*(texts.keys() for texts in TEXTS.values()))
    return {lang: sorted(every - TEXTS[lang].keys()) for lang in LANGUAGES}
