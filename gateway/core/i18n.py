"""The staff interface's languages and saying a text in them, from gettext catalogs.

Each language is one catalog, ``translations/<code>/LC_MESSAGES/messages.po`` next to this
module, read with Babel once at import: the languages are the catalogs found, French (the
default) first. Adding a language is adding a catalog (a copy of the French one, translated in
any .po editor) and restarting; no Python changes. The folder name is a CLDR code (``bm`` for
Bambara), which also gives the pages their number and date formats.

The catalogs are keyed: a msgid is a key such as ``campaigns.title``, grouped by page or
feature, and its msgstr is the text. Keys rather than French sentences as msgids, so that
rewording a French text does not orphan every translation of it. Placeholders are
``str.format`` fields (``{name}``, flagged python-brace-format). A text is looked up by key in
the session's language (``gateway.web.dashboard.base.t``); a text missing or still fuzzy in one
catalog falls back to French, then to the key itself, so a page never breaks over a text.
A test checks every catalog has every key and no placeholder French lacks.

The campaign domain says why it refuses something as a ``Translatable`` (a key and its
values), not as text: the API and the CLI give it in English, the dashboard in the reader's
language.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.messages.pofile import read_po
from babel.numbers import get_decimal_symbol

DEFAULT_LANGUAGE = "fr"
TRANSLATIONS = Path(__file__).with_name("translations")
CATALOG = Path("LC_MESSAGES", "messages.po")

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Catalogs:
    """The texts of every catalog in a folder: language, then key, to text (translated only)."""

    texts: Mapping[str, Mapping[str, str]]

    @classmethod
    def load(cls, folder: Path) -> Catalogs:
        """Read ``<folder>/<code>/LC_MESSAGES/messages.po`` for every code with one."""
        texts: dict[str, dict[str, str]] = {}
        for path in sorted(folder.glob(f"*/{CATALOG}")):
            code = path.parents[1].name
            if not _is_cldr_language(code):
                # Its dates and numbers could not be written: better no link than broken pages.
                log.warning("translation catalog %s skipped: %r is not a CLDR language", path, code)
                continue
            texts[code] = _read(path)
        if DEFAULT_LANGUAGE not in texts:
            raise RuntimeError(f"no {DEFAULT_LANGUAGE} catalog in {folder}: it is the fallback")
        return cls(texts)

    @property
    def languages(self) -> tuple[str, ...]:
        """French first (the default), then the others by code."""
        others = sorted(code for code in self.texts if code != DEFAULT_LANGUAGE)
        return (DEFAULT_LANGUAGE, *others)

    def text(self, language: str, key: str) -> str:
        """The text ``key`` in ``language``, else in French, else the key itself."""
        found = self.texts.get(language, {}).get(key)
        return found or self.texts[DEFAULT_LANGUAGE].get(key) or key

    def missing_keys(self) -> dict[str, list[str]]:
        """Per language, the keys another language has and it lacks (empty when complete)."""
        every = set().union(*(texts.keys() for texts in self.texts.values()))
        return {lang: sorted(every - self.texts[lang].keys()) for lang in self.languages}


def _read(path: Path) -> dict[str, str]:
    with path.open("rb") as file:
        catalog = read_po(file)
    # As gettext does: an untranslated or fuzzy entry is not a text yet.
    return {
        str(message.id): str(message.string)
        for message in catalog
        if message.id and isinstance(message.string, str) and message.string and not message.fuzzy
    }


def _is_cldr_language(code: str) -> bool:
    try:
        Locale.parse(code)
    except (UnknownLocaleError, ValueError):
        return False
    return True


CATALOGS = Catalogs.load(TRANSLATIONS)
LANGUAGES: tuple[str, ...] = CATALOGS.languages


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


def translate(language: str, key: str, **values: Any) -> str:
    """The text ``key`` in ``language`` (French, then the key, when missing), filled in."""
    text = CATALOGS.text(language, key)
    if not values:
        return text
    said = {k: _said(v, language) for k, v in values.items()}
    return text.format(**said)


def _said(value: Any, language: str) -> Any:
    """A value as the reader writes it: a Translatable in their language, a decimal with their
    separator (0,5 in French, from CLDR)."""
    if isinstance(value, Translatable):
        return value.in_language(language)
    if isinstance(value, float):
        written = format(value, "g")
        return written.replace(".", _decimal_symbol(language))
    return value


@lru_cache(maxsize=32)
def _decimal_symbol(language: str) -> str:
    try:
        return get_decimal_symbol(language)
    except (UnknownLocaleError, ValueError):
        return "."


def missing_keys() -> dict[str, list[str]]:
    """Per language, the keys another language has and it lacks (empty when complete)."""
    return CATALOGS.missing_keys()
