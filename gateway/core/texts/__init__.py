"""The staff interface's texts, in French and English: one dict of key to text per language.

Data only, one module per language: looking a text up, the fallback to French and filling in
``{name}`` placeholders are in ``gateway.core.i18n``. Keys are grouped by page or feature
(``campaigns.``, ``results.``, ...); both languages have every key, as a test checks.
"""

from __future__ import annotations

from gateway.core.texts.en import EN
from gateway.core.texts.fr import FR

TEXTS: dict[str, dict[str, str]] = {"fr": FR, "en": EN}
