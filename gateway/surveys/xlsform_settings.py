"""What a flow needs that an XLSForm's own sheets have no place for: the ``gateway`` sheet (texts
per language: title, endings, flow texts) and extra ``settings`` columns (keywords, expiry_hours,
reminders_count, reminders_interval_hours, offer_sms_after_ussd_drop). KoBoToolbox, ODK and
pyxform leave both alone."""

from __future__ import annotations

from collections.abc import Mapping
from io import BytesIO
from typing import Any

from openpyxl import load_workbook

GATEWAY_SHEET = "gateway"


def gateway_sheet(source: bytes) -> list[dict[str, str]]:
    """The ``gateway`` sheet's rows (a name, then a label per language); none without it."""
    book = load_workbook(BytesIO(source), read_only=True, data_only=True)
    try:
        if GATEWAY_SHEET not in book.sheetnames:
            return []
        rows = book[GATEWAY_SHEET].iter_rows(values_only=True)
        header = [str(h).strip() if h is not None else "" for h in next(rows, ())]
        return [
            {h: str(v).strip() for h, v in zip(header, row, strict=False) if h and v is not None}
            for row in rows
        ]
    finally:
        book.close()


def gateway_settings(settings: Mapping[str, str]) -> dict[str, Any]:
    """The flow fields a ``settings`` sheet's extra columns give (keywords, expiry, reminders)."""
    found: dict[str, Any] = {}
    if "keywords" in settings:
        found["keywords"] = settings["keywords"].replace(",", " ").split()
    if "expiry_hours" in settings:
        found["expiry_hours"] = _number(settings["expiry_hours"])
    reminders = {
        name: _number(settings[f"reminders_{name}"])
        for name in ("count", "interval_hours")
        if f"reminders_{name}" in settings
    }
    if reminders:
        found["reminders"] = reminders
    if "offer_sms_after_ussd_drop" in settings:
        found["offer_sms_after_ussd_drop"] = _yes(settings["offer_sms_after_ussd_drop"])
    return found


def _number(raw: str) -> int | float:
    value = float(raw)
    return int(value) if value.is_integer() else value


def _yes(raw: str) -> bool:
    return raw.strip().lower() in ("yes", "true", "1", "true()")
