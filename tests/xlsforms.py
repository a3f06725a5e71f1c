"""XLSForm workbooks for tests, written with openpyxl as a spreadsheet program would save them,
and a realistic form written to the XLSForm spec (not by this gateway's export)."""

from __future__ import annotations

from collections.abc import Sequence
from io import BytesIO

from openpyxl import Workbook

Sheet = Sequence[Sequence[object]]


def xlsform(survey: Sheet, choices: Sheet = (), settings: Sheet = (), **others: Sheet) -> bytes:
    """An .xlsx with these sheets; each is its header row, then its rows."""
    book = Workbook()
    first = book.active
    assert first is not None
    book.remove(first)
    for name, rows in {
        "survey": survey,
        "choices": choices,
        "settings": settings,
        **others,
    }.items():
        if not rows:
            continue
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(list(row))
    out = BytesIO()
    book.save(out)
    return out.getvalue()


FR, EN = "label::Français (fr)", "label::English (en)"
MSG_FR, MSG_EN = "constraint_message::Français (fr)", "constraint_message::English (en)"
SURVEY_HEADER = [
    "type", "name", FR, EN, "hint::English (en)", "required", "relevant", "constraint",
    MSG_FR, MSG_EN, "choice_filter", "appearance",
]  # fmt: skip

# A DTM site assessment as a KoBoToolbox user would write it (rows 2 onwards).
SITE_SURVEY = [
    SURVEY_HEADER,
    ["start", "start", "", "", "", "", "", "", "", "", "", ""],
    ["end", "end", "", "", "", "", "", "", "", "", "", ""],
    ["select_one yes_no", "consent", "Acceptez-vous de répondre?", "Do you agree to answer?",
     "", "yes", "", "", "", "", "", ""],
    ["select_one region", "region", "Votre région?", "Your region?", "", "yes",
     "${consent} = 'yes'", "", "", "", "", "minimal"],
    ["select_one site", "site", "Votre site?", "Your site?", "", "yes", "${consent} = 'yes'",
     "", "", "", "region=${region}", ""],
    ["integer", "households", "Combien de ménages sur le site?", "How many households on site?",
     "A number", "yes", "${consent} = 'yes'", ". >= 1 and . <= 500",
     "Entre 1 et 500 ménages.", "From 1 to 500 households.", "", ""],
    ["select_multiple needs", "needs", "Besoins? Envoyez les numéros, ex: 1 3",
     "Needs? Send the numbers, e.g. 1 3", "", "yes", "${consent} = 'yes'", "", "", "", "", ""],
    ["integer", "water_points", "Combien de points d'eau?", "How many water points?", "", "yes",
     "selected(${needs}, 'water') and not(${region} = 'bamako')", ". <= 50", "", "", "", ""],
    ["note", "thanks_note", "Merci pour ces réponses.", "Thank you for these answers.", "", "",
     "${consent} = 'yes'", "", "", "", "", ""],
]  # fmt: skip

SITE_CHOICES = [
    ["list_name", "name", FR, EN, "region"],
    ["yes_no", "yes", "Oui", "Yes", ""],
    ["yes_no", "no", "Non", "No", ""],
    ["region", "mopti", "Mopti", "Mopti", ""],
    ["region", "bamako", "Bamako", "Bamako", ""],
    ["site", "sevare_1", "Sévaré 1", "Sevare 1", "mopti"],
    ["site", "sevare_2", "Sévaré 2", "Sevare 2", "mopti"],
    ["site", "niamana", "Niamana", "Niamana", "bamako"],
    ["needs", "food", "Nourriture", "Food", ""],
    ["needs", "water", "Eau", "Water", ""],
    ["needs", "shelter", "Abri", "Shelter", ""],
]

SITE_SETTINGS = [
    ["form_title", "form_id", "version", "default_language", "keywords"],
    ["Évaluation des sites", "site_assessment", "2026030101", "Français (fr)", "EVAL"],
]


def site_form(**changes: Sheet) -> bytes:
    """The site assessment XLSForm, with sheets replaced by ``changes``."""
    sheets = {"survey": SITE_SURVEY, "choices": SITE_CHOICES, "settings": SITE_SETTINGS}
    sheets.update(changes)
    return xlsform(**sheets)
