"""The texts a flow needs that an XLSForm has no place for, when its ``gateway`` sheet does not
give them: what a refused answer, the paging entries and the endings say.

French and English are written out; a form in another language gets the English ones, and the
import says so, so they can be translated in the ``gateway`` sheet.
"""

from __future__ import annotations

DEFAULT_TEXTS: dict[str, dict[str, str]] = {
    "fr": {
        "invalid": "Réponse non comprise. Envoyez seulement le numéro de votre choix, ex: 2.",
        "invalid_number": "Réponse non comprise. Envoyez un nombre entre {min} et {max}.",
        "already_done": "Merci, vous avez déjà répondu à ce sondage.",
        "resume": "Vous avez un sondage en cours.",
        "resume_continue": "Continuer",
        "resume_restart": "Recommencer",
        "more": "Suite",
        "back": "Retour",
        "reminder": "Rappel: le sondage attend votre réponse. Répondez à la dernière question"
        " ou STOP pour quitter.",
        # What the SMS channel answers to its keywords when this flow is the USSD code's.
        "help": "Envoyez SUITE pour continuer le sondage, STOP pour arreter, EFFACER pour"
        " effacer vos donnees.",
        "started": "Vous recevrez de nouveau les messages du sondage. Envoyez STOP pour arreter.",
        "stopped": "Merci. Vous ne recevrez plus de messages de ce sondage.",
        "deleted": "Vos réponses et votre numéro ont été effacés.",
        "language_set": "Langue: francais.",
        "paused": "Reponses non comprises. Le sondage est en pause: envoyez SUITE pour reprendre"
        " ou AIDE pour de l'aide.",
    },
    "en": {
        "invalid": "Answer not understood. Send only the number of your choice, e.g. 2.",
        "invalid_number": "Answer not understood. Send a number from {min} to {max}.",
        "already_done": "Thank you, you have already answered this survey.",
        "resume": "You have a survey in progress.",
        "resume_continue": "Continue",
        "resume_restart": "Start again",
        "more": "More",
        "back": "Back",
        "reminder": "Reminder: the survey is waiting for your answer. Reply to the last"
        " question or STOP to quit.",
        "help": "Send CONTINUE to go on with the survey, STOP to stop, DELETE to erase your data.",
        "started": "You will receive survey messages again. Send STOP to stop.",
        "stopped": "Thank you. You will receive no more messages from this survey.",
        "deleted": "Your answers and your number have been deleted.",
        "language_set": "Language: English.",
        "paused": "Answers not understood. The survey is paused: send CONTINUE to go on or HELP"
        " for help.",
    },
}

DEFAULT_ENDINGS: dict[str, dict[str, str]] = {
    "completed": {
        "fr": "Merci. Vos réponses sont enregistrées.",
        "en": "Thank you. Your answers are saved.",
    },
    "declined": {
        "fr": "Merci. Vous ne recevrez plus de messages de ce sondage.",
        "en": "Thank you. You will receive no more messages from this survey.",
    },
}


def default_text(name: str, language: str) -> str | None:
    """The default flow text ``name`` in ``language`` (English for a language not written out)."""
    return DEFAULT_TEXTS.get(language, DEFAULT_TEXTS["en"]).get(name)


def default_ending(name: str, language: str) -> str:
    """The default text of ending ``name`` in ``language``."""
    texts = DEFAULT_ENDINGS[name]
    return texts.get(language, texts["en"])
