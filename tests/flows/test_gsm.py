"""SMS texts measured as the network counts them (3GPP TS 23.038 / 23.040), and GSM-7 renderings."""

from __future__ import annotations

import sys

import flows.gsm7
import handlers.gsm
from handlers.gsm import Encoding, SmsMeasure, ascii_screen, measure_sms, non_gsm7, to_gsm7

# Written out from 3GPP TS 23.038 § 6.2.1 / 6.2.1.1 here rather than imported, so a wrong table
# in the module fails these tests instead of agreeing with itself.
BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
EXTENSION = "\f^{}\\[~]|€"
EMOJI = "\U0001f600"  # 😀, outside the BMP: a surrogate pair in UTF-16


# --- measure_sms: GSM-7 -------------------------------------------------------------------------


def test_160_plain_characters_are_one_sms() -> None:
    assert measure_sms("a" * 160) == SmsMeasure(Encoding.GSM7, 160, 1, 160)


def test_161_plain_characters_are_two_parts_of_153() -> None:
    assert measure_sms("a" * 161) == SmsMeasure(Encoding.GSM7, 161, 2, 153)
    assert measure_sms("a" * 306).segments == 2
    assert measure_sms("a" * 307).segments == 3


def test_empty_text_is_one_segment() -> None:
    assert measure_sms("") == SmsMeasure(Encoding.GSM7, 0, 1, 160)


def test_every_basic_table_character_is_one_septet() -> None:
    assert len(BASIC) == 127  # 128 codes less the escape
    for char in BASIC:
        assert measure_sms(char) == SmsMeasure(Encoding.GSM7, 1, 1, 160), repr(char)


def test_every_extension_table_character_is_two_septets() -> None:
    for char in EXTENSION:
        assert measure_sms(char) == SmsMeasure(Encoding.GSM7, 2, 1, 160), repr(char)
    assert measure_sms("Prix: 5 €").units == 10


def test_euro_signs_fill_a_single_sms_at_80() -> None:
    assert measure_sms("€" * 80) == SmsMeasure(Encoding.GSM7, 160, 1, 160)
    assert measure_sms("€" * 81) == SmsMeasure(Encoding.GSM7, 162, 2, 153)


def test_an_escape_pair_is_not_split_across_parts() -> None:
    # 152 septets leave one free in the first part: the € (ESC + code) opens the second part,
    # which then overflows by one. Dividing 306 septets by 153 would say 2.
    assert measure_sms("a" * 152 + "€" + "a" * 152) == SmsMeasure(Encoding.GSM7, 306, 3, 153)
    # The same count with the pair ending exactly on the boundary fits in two.
    assert measure_sms("a" * 151 + "€" + "a" * 153) == SmsMeasure(Encoding.GSM7, 306, 2, 153)


def test_french_accents_of_the_basic_table_stay_gsm7() -> None:
    text = "Deuxième besoin? Ménages déplacés à Ségou. Éducation, Ça où"
    assert measure_sms(text).encoding is Encoding.GSM7


def test_characters_outside_gsm7_are_found() -> None:
    # Ç is in the basic table, ç is not (3GPP TS 23.038 code 0x09 is the capital).
    assert non_gsm7("Ça ç être sœur Ç ê") == ["ç", "ê", "œ"]
    assert non_gsm7("d’argent `x`") == ["’", "`"]
    assert non_gsm7(BASIC + EXTENSION) == []
    # 0x1B is the escape code, not a character a text can carry.
    assert non_gsm7("\x1b") == ["\x1b"]


# --- measure_sms: UCS-2 -------------------------------------------------------------------------


def test_70_characters_outside_gsm7_are_one_ucs2_sms() -> None:
    assert measure_sms("ê" * 70) == SmsMeasure(Encoding.UCS2, 70, 1, 70)


def test_71_characters_outside_gsm7_are_two_parts_of_67() -> None:
    assert measure_sms("ê" * 71) == SmsMeasure(Encoding.UCS2, 71, 2, 67)
    assert measure_sms("ê" * 134).segments == 2
    assert measure_sms("ê" * 135).segments == 3


def test_one_character_outside_gsm7_switches_the_whole_text() -> None:
    assert measure_sms("a" * 100 + "ç") == SmsMeasure(Encoding.UCS2, 101, 2, 67)


def test_an_emoji_is_two_utf16_units() -> None:
    assert measure_sms(EMOJI) == SmsMeasure(Encoding.UCS2, 2, 1, 70)
    assert measure_sms(EMOJI * 35) == SmsMeasure(Encoding.UCS2, 70, 1, 70)
    assert measure_sms(EMOJI * 36) == SmsMeasure(Encoding.UCS2, 72, 2, 67)


def test_a_surrogate_pair_is_not_split_across_parts() -> None:
    assert measure_sms("ê" * 66 + EMOJI + "ê" * 66) == SmsMeasure(Encoding.UCS2, 134, 3, 67)
    assert measure_sms("ê" * 65 + EMOJI + "ê" * 67) == SmsMeasure(Encoding.UCS2, 134, 2, 67)


# --- to_gsm7 ------------------------------------------------------------------------------------


def test_shipped_french_texts_keep_their_gsm7_accents() -> None:
    for text in (
        "OIM/DNDS: sondage volontaire et gratuit sur les ménages déplacés.",
        "Deuxième besoin?",
        "Réponses confidentielles, sans effet sur l'aide.",
        "Éducation",
        "Merci, vous avez déjà répondu à ce sondage.",
    ):
        assert to_gsm7(text) == text


def test_typographic_apostrophes_quotes_dashes_and_spaces_become_plain() -> None:
    assert to_gsm7("Pas d’argent") == "Pas d'argent"
    assert to_gsm7("“Oui” ‘non’") == "\"Oui\" 'non'"
    assert to_gsm7("Attendez… 1–3 mois — merci") == "Attendez... 1-3 mois - merci"
    assert to_gsm7("Combien\u00a0? Où\u202f!") == "Combien ? Où !"
    assert to_gsm7("mé\u00adnage\u200b") == "ménage"


def test_guillemets_become_one_plain_double_quote() -> None:
    assert to_gsm7("Envoyez « OUI »") == 'Envoyez "OUI"'
    assert to_gsm7("Envoyez «\u00a0OUI\u00a0»") == 'Envoyez "OUI"'
    assert to_gsm7("«OUI»") == '"OUI"'


def test_other_characters_are_transliterated() -> None:
    assert to_gsm7("Être prêt à côté du maïs, sœur ça") == "Etre pret à coté du mais, soeur ca"
    assert to_gsm7("âîôûëÿŒ") == "aiouey" + "Oe"
    assert to_gsm7("`x`\tfin") == "'x' fin"


def test_a_decomposed_accent_is_composed_first() -> None:
    # e + COMBINING ACUTE ACCENT is é, which GSM-7 has: keep it rather than strip the accent.
    assert to_gsm7("me\u0301nage") == "ménage"
    assert to_gsm7("e\u0302tre") == "etre"


def test_gsm7_text_is_left_as_it_is() -> None:
    assert to_gsm7(BASIC + EXTENSION) == BASIC + EXTENSION


def test_every_rendering_measures_as_gsm7() -> None:
    # Every code point but the surrogates, which a str of real text never holds alone.
    chars = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
    rendered = to_gsm7("".join(chars))
    assert non_gsm7(rendered) == []
    assert measure_sms(rendered).encoding is Encoding.GSM7


# --- one implementation, and the USSD screen text ---------------------------------------------


def test_handlers_use_the_pure_implementation() -> None:
    assert handlers.gsm.measure_sms is flows.gsm7.measure_sms
    assert handlers.gsm.to_gsm7 is flows.gsm7.to_gsm7
    assert handlers.gsm.SmsMeasure is flows.gsm7.SmsMeasure


def test_ascii_screen_is_plain_ascii() -> None:
    assert ascii_screen("Pas d’argent, sœur é\t€") == "Pas d'argent, soeur eEUR"
    assert ascii_screen("Ségou\n1. Oui") == "Segou\n1. Oui"
