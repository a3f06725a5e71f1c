"""What of an XLSForm the gateway runs, skips or refuses, and why, in the reader's words."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Types filled in by ODK and KoBo apps on the handset: nothing to ask, so they are left out.
SKIPPED_TYPES = frozenset(
    {
        "start",
        "end",
        "today",
        "deviceid",
        "subscriberid",
        "simserial",
        "phonenumber",
        "username",
        "email",
        "audit",
        "start-geopoint",
        "background-audio",
    }
)

_NO_LOCATION = "a phone call or an SMS carries no location"
_NO_MEDIA = "a USSD screen or an SMS shows text only"
_NO_DATE = "a date typed on a keypad has no agreed form; ask it as a choice or an integer"

REFUSED_TYPES: dict[str, str] = {
    "calculate": "calculations run in the ODK form engine, which a phone conversation does not"
    " have",
    "geopoint": _NO_LOCATION,
    "geotrace": _NO_LOCATION,
    "geoshape": _NO_LOCATION,
    "date": _NO_DATE,
    "time": _NO_DATE,
    "datetime": _NO_DATE,
    "image": _NO_MEDIA,
    "audio": _NO_MEDIA,
    "video": _NO_MEDIA,
    "file": _NO_MEDIA,
    "barcode": "a basic phone cannot scan a barcode",
    "begin repeat": "a repeat asks a group again and again, which a USSD session or an SMS"
    " exchange cannot page through",
    "begin_repeat": "a repeat asks a group again and again, which a USSD session or an SMS"
    " exchange cannot page through",
    "range": "a range is drawn as a slider; ask an integer with bounds instead",
    "rank": "ranking needs dragging options on a touch screen",
    "hidden": "a hidden value is filled in by a form engine, which a phone conversation does"
    " not have",
    "acknowledge": "an acknowledgement is a tick box on a touch screen; use a note or a choice",
    "trigger": "an acknowledgement is a tick box on a touch screen; use a note or a choice",
    "xml-external": "external data is looked up by a form engine, which a phone conversation"
    " does not have",
    "select_one_from_file": "options from a separate file are not imported; put them in the"
    " choices sheet",
    "select_multiple_from_file": "options from a separate file are not imported; put them in the"
    " choices sheet",
}

# Columns whose content would change what the respondent sees or how the answer is checked, and
# which the gateway cannot honour: refused where a row fills them.
REFUSED_COLUMNS: dict[str, str] = {
    "calculation": "calculations run in the ODK form engine, which a phone conversation does"
    " not have",
    "repeat_count": "a repeat cannot run over SMS/USSD",
    "default": "a default answer is preselected on a touch screen; a phone conversation has none",
    "read_only": "a read-only field is filled in by a form engine",
    "trigger": "recalculations run in the ODK form engine",
}
MEDIA_COLUMN = re.compile(r"^(media::)?(image|audio|video|big-image)(::.*)?$")

LANGUAGE_COLUMN = re.compile(r"^(?P<kind>[a-z_]+)::(?P<name>.+?)\s*\((?P<code>[a-z]{2,3})\)$")
NAME = re.compile(r"^[a-z0-9][a-z0-9_]{0,31}$")
NAME_RULE = "a name the gateway stores must be lower-case letters, digits and _, at most 32"
CHOICE_FILTER = re.compile(
    r"^\s*(?P<property>[A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*\$\{(?P<q>[^}]+)\}\s*$"
)

# Choices columns that mean something to the gateway rather than to a choice filter.
GATEWAY_CHOICE_COLUMNS = frozenset({"list_name", "name", "end", "aliases"})


# XLSForm's required: blank means no. An expression (required only when...) counts as yes:
# the gateway cannot leave a question blank anyway.
_NOT_REQUIRED = frozenset({"", "no", "false", "false()", "0"})


def is_required(raw: str) -> bool:
    """Whether a survey row's ``required`` cell says the question must be answered."""
    return raw.strip().lower() not in _NOT_REQUIRED


def optional_note(rows: list[tuple[int, str]]) -> str:
    """The import report's note on questions the form does not require (row, name)."""
    where = ", ".join(f"{number} ({name})" for number, name in rows)
    return (
        f"survey rows {where}: not required in the form, asked as required: over SMS and USSD"
        " every question waits for an answer (a keypad sends no empty answer, and 0 goes back)."
        " Where one may not answer, add a choice such as 'Don't know', or set required to yes"
        " to silence this note"
    )


@dataclass(frozen=True, slots=True)
class Problem:
    """Why part of a form cannot run, and where: sheet, row (as the spreadsheet numbers it)
    and column."""

    sheet: str
    row: int | None
    column: str | None
    why: str

    def __str__(self) -> str:
        where = [f"sheet {self.sheet}"]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.why}"


class XlsFormRefused(Exception):
    """An XLSForm that cannot run over SMS/USSD; ``problems`` lists every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


def normalised_type(raw: str) -> tuple[str, str | None]:
    """A survey type and its list name: ``select one x`` reads as ``("select_one", "x")``."""
    words = raw.strip().split()
    if not words:
        return "", None
    joined = " ".join(words).lower()
    for alias, kind in (
        ("select one ", "select_one"),
        ("select_one ", "select_one"),
        ("select all that apply ", "select_multiple"),
        ("select_multiple ", "select_multiple"),
        ("select multiple ", "select_multiple"),
    ):
        if joined.startswith(alias):
            rest = raw.strip()[len(alias) :].split()
            if rest and rest[-1].lower() in ("or_other",):
                return kind + "_or_other", rest[0]
            return kind, rest[0] if rest else None
    return joined.replace(" ", "_") if joined in ("begin group", "end group") else joined, None
