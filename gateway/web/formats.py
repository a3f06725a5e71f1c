"""Numbers and dates on staff pages as the reader writes them, from CLDR (Babel).

French readers write ``38,5 %``, ``1 234`` and ``31/03/2026``; English readers ``38.5%``,
``1,234`` and ``31 Mar 2026``. Templates use the filters ``number``, ``percent``, ``date`` and
``datetime``; the language is the session's (``gateway.web.dashboard.base.language``).
"""

from __future__ import annotations

from datetime import date, datetime

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal, format_percent
from flask import Flask

from gateway.web.dashboard.base import language


def number(value: float | int | None, digits: int = 0) -> str:
    """``value`` with the reader's grouping and decimal separator, ``digits`` decimals at most."""
    if value is None:
        return ""
    pattern = "#,##0" + ("." + "#" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=language())


def percent(share: float | None, digits: int = 1) -> str:
    """``share`` (0.385) as a percentage (``38,5 %`` in French, ``38.5%`` in English)."""
    if share is None:
        return ""
    # The locale's own pattern (``#,##0\xa0%`` in French) with the decimals asked for.
    pattern = Locale.parse(language()).percent_formats[None].pattern
    if digits:
        whole, _, sign = pattern.rpartition("0")
        pattern = f"{whole}0.{'0' * digits}{sign}"
    return format_percent(share, format=pattern, locale=language())


def day(value: date | datetime | None) -> str:
    """A calendar day, short and numeric as the reader writes it (31/03/2026)."""
    if value is None:
        return ""
    return format_date(value, format="short", locale=language())


def moment(value: datetime | None) -> str:
    """A date and time to the minute, as the reader writes them."""
    if value is None:
        return ""
    return format_datetime(value, format="short", locale=language())


def install_formats(app: Flask) -> None:
    """Make the filters available to every template."""
    app.add_template_filter(number, "number")
    app.add_template_filter(percent, "percent")
    app.add_template_filter(day, "date")
    app.add_template_filter(moment, "datetime")
