"""The staff interface's texts, in French (the default) and English.

A text is looked up by key in the session's language (``gateway.dashboard.t``); a key missing in
one language falls back to French, then to the key itself, so a page never breaks over a text.
Placeholders are ``str.format`` fields: ``{name}``. A test checks both languages have every key.

The campaign domain says why it refuses something as a ``Message`` (a key and its values), not
as text: the API and the CLI give it in English, the dashboard in the reader's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LANGUAGES: tuple[str, ...] = ("fr", "en")
DEFAULT_LANGUAGE = "fr"

TEXTS: dict[str, dict[str, str]] = {
    "fr": {
        "nav.campaigns": "Campagnes",
        "nav.results": "Résultats",
        "nav.enumerators": "Enquêteurs",
        "nav.simulator": "Simulateur",
        "nav.logout": "Se déconnecter",
        "role.viewer": "lecture",
        "role.manager": "gestion",
        "role.admin": "administration",
        "login.title": "Connexion",
        "login.username": "Nom d'utilisateur",
        "login.password": "Mot de passe",
        "login.submit": "Se connecter",
        "login.failed": "Nom d'utilisateur ou mot de passe incorrect.",
        "login.throttled": "Trop d'essais pour ce nom d'utilisateur. Réessayez dans 15 minutes.",
        "error.title": "Erreur",
        "error.csrf": "Le formulaire a expiré. Rechargez la page et recommencez.",
        "error.too_large": "Le fichier envoyé est trop gros.",
        "error.403": "Votre rôle ne permet pas d'ouvrir cette page.",
        "error.404": "Page introuvable.",
        "error.other": "La demande n'a pas pu aboutir.",
        "error.back": "Retour à l'accueil",
        "campaigns.title": "Campagnes",
        "campaigns.none": "Aucune campagne pour l'instant.",
        "campaigns.new": "Nouvelle campagne",
        "campaigns.name": "Nom",
        "campaigns.flow": "Enquête",
        "campaigns.channel": "Canal",
        "campaigns.status": "État",
        "campaigns.progress": "Avancement",
        "campaigns.created": "Créée le",
        "campaigns.audience": "Liste de numéros (fichier CSV)",
        "campaigns.audience_hint": "Une colonne « phone » (numéros au format +223…), "
        "une ligne par ménage.",
        "campaigns.create": "Créer la campagne",
        "campaigns.created_ok": "Campagne « {name} » créée.",
        "campaigns.report": "Rapport d'import",
        "campaigns.imported": "Numéros importés",
        "campaigns.invalid": "Lignes invalides",
        "campaigns.duplicates": "Doublons",
        "campaigns.opted_out": "Désinscrits (STOP)",
        "campaigns.row": "Ligne",
        "campaigns.problem": "Problème",
        "campaigns.more_rows": "… et {count} autres lignes.",
        "campaigns.action.start": "Démarrer",
        "campaigns.action.pause": "Mettre en pause",
        "campaigns.action.resume": "Reprendre",
        "campaigns.action.cancel": "Annuler la campagne",
        "campaigns.action_refused": "Impossible : {problem}",
        "campaigns.see_results": "Voir les résultats de cette campagne",
        "campaigns.total": "Total",
        "campaigns.no_file": "choisissez le fichier CSV des numéros",
        "campaigns.refused": "La campagne n'a pas été créée : {problem}",
        "campaigns.done.start": "Campagne démarrée : les invitations partent dans les heures "
        "d'envoi.",
        "campaigns.done.pause": "Campagne en pause : plus aucune invitation ne part.",
        "campaigns.done.resume": "Campagne reprise.",
        "campaigns.done.cancel": "Campagne annulée.",
        "campaigns.state.draft": "brouillon",
        "campaigns.state.running": "en cours",
        "campaigns.state.paused": "en pause",
        "campaigns.state.cancelled": "annulée",
        "campaigns.state.completed": "terminée",
        "campaigns.channel.sms": "SMS : l'enquête se fait par SMS",
        "campaigns.channel.ussd": "USSD : un SMS invite à composer le code USSD",
        "campaigns.window": "Heures d'envoi (chaque jour)",
        "campaigns.timezone": "Fuseau horaire",
        "campaigns.start_at": "Pas avant (facultatif)",
        "campaigns.throttle": "Messages par seconde",
        "campaigns.invited_of": "{invited} invités sur {contacts}",
        "campaigns.completed_of": "{completed} enquêtes terminées sur {contacts}",
        "campaigns.count.contacts": "Numéros",
        "campaigns.count.queued": "En attente d'envoi",
        "campaigns.count.sent": "Invitations envoyées",
        "campaigns.count.delivered": "Reçues (accusé de réception)",
        "campaigns.count.failed": "Non reçues",
        "campaigns.count.started": "Enquêtes commencées",
        "campaigns.count.completed": "Enquêtes terminées",
        "campaigns.count.declined": "Refus",
        "campaigns.count.expired": "Expirées sans réponse complète",
        "campaigns.count.opted_out": "Désinscrits (STOP)",
        "campaigns.count.skipped": "Déjà enquêtés",
        # Why a campaign request is refused (gateway.campaigns, gateway.campaign_audience).
        "campaign_error.window_format": "le créneau d'envoi « {window} » n'est pas de la forme "
        "08:00-19:00",
        "campaign_error.window_time": "le créneau d'envoi « {window} » contient une heure qui "
        "n'existe pas",
        "campaign_error.window_order": "le créneau d'envoi « {window} » doit commencer avant de "
        "se terminer, par exemple 08:00-19:00",
        "campaign_error.timezone": "« {name} » n'est pas un nom de fuseau horaire ; utilisez un "
        "nom comme Africa/Bamako",
        "campaign_error.name_control": "le nom d'une campagne est du texte simple, sans "
        "caractères de contrôle",
        "campaign_error.name_length": "une campagne a besoin d'un nom de 1 à {max} caractères",
        "campaign_error.unknown_flow": "l'enquête « {flow} » n'existe pas (enquêtes connues : "
        "{known})",
        "campaign_error.channel": "le canal doit être sms ou ussd, et non « {channel} »",
        "campaign_error.throttle_range": "le débit doit être entre {low} et {high} messages "
        "par seconde, et non {given}",
        "campaign_error.throttle_number": "le débit est un nombre de messages par seconde, par "
        "exemple 5",
        "campaign_error.start_at": "« {text} » n'est pas une date et une heure comme "
        "2026-03-10T08:00",
        "campaign_error.range": "{what} doit être entre {low} et {high}, et non {value}",
        "campaign_error.what.reminders": "le nombre de rappels",
        "campaign_error.what.reminder_interval": "l'intervalle entre deux rappels (en heures)",
        "campaign_error.what.expiry": "le délai d'expiration (en heures)",
        "campaign_error.what.retention": "la durée de conservation (en jours)",
        "campaign_error.ussd_flow": "une campagne USSD invite les ménages à composer le code "
        "USSD, qui mène à l'enquête « {ussd_flow} » et non « {flow} » : choisissez le canal SMS "
        "pour cette enquête",
        "campaign_error.no_invitation": "l'enquête « {flow} » n'a pas de texte « {text} » pour "
        "inviter les ménages : ajoutez-en un au fichier de l'enquête",
        "campaign_error.ambiguous_id": "plusieurs campagnes ont un identifiant commençant par "
        "« {prefix} »",
        "campaign_error.unknown_id": "aucune campagne n'a l'identifiant « {ident} » (voir la "
        "liste des campagnes)",
        "campaign_error.no_contacts": "la campagne « {name} » n'a encore aucun numéro : importez "
        "d'abord une liste",
        "campaign_error.pause_not_started": "la campagne « {name} » n'a pas démarré : il n'y a "
        "rien à mettre en pause",
        "campaign_error.resume_not_started": "la campagne « {name} » n'a pas encore démarré : "
        "démarrez-la plutôt que de la reprendre",
        "campaign_error.cancelled": "la campagne « {name} » a été annulée et ne peut plus "
        "{verb} : créez-en une nouvelle",
        "campaign_error.verb.start": "être démarrée",
        "campaign_error.verb.pause": "être mise en pause",
        "campaign_error.verb.resume": "être reprise",
        "campaign_error.completed": "la campagne « {name} » est terminée : tous les numéros ont "
        "été invités. Créez une nouvelle campagne pour les inviter à nouveau",
        "campaign_error.moved": "la campagne « {name} » est passée entre-temps à l'état "
        "« {status} » : réessayez si c'est encore utile",
        "campaign_error.closed_import": "la campagne « {name} » est {status} : elle ne prend plus "
        "de numéros ; créez une nouvelle campagne",
        "campaign_error.too_many_rows": "une liste compte au plus {max} lignes : découpez le "
        "fichier",
        "campaign_error.csv_empty": "le fichier est vide : il lui faut une ligne d'en-tête qui "
        "nomme la colonne des numéros",
        "campaign_error.csv_encoding": "la ligne {row} n'est pas du texte UTF-8 : enregistrez le "
        "fichier au format « CSV UTF-8 » et réessayez",
        "campaign_error.csv_unreadable": "la ligne {row} n'est pas lisible en CSV : {problem}",
        "campaign_error.no_phone_column": "la ligne d'en-tête n'a pas de colonne de numéros : "
        "nommez-la « phone » (ou « telephone », « numero »)",
        # Why a row of a list was not taken (the import report).
        "campaign_row.no_phone": "pas de numéro de téléphone",
        "campaign_row.not_a_number": "numéro de téléphone invalide ({masked})",
        "campaign_row.no_digits": "numéro de téléphone invalide (aucun chiffre)",
        "campaign_row.unknown_language": "langue inconnue (l'enquête propose : {offered})",
        "campaign_row.long_region": "région de plus de {max} caractères",
        "results.title": "Résultats",
        "results.flow": "Enquête",
        "results.campaign": "Campagne",
        "results.all_campaigns": "Toutes",
        "results.since": "Depuis le",
        "results.until": "Jusqu'au",
        "results.show": "Afficher",
        "results.households": "Ménages ayant terminé",
        "results.people": "Personnes",
        "results.answer": "Réponse",
        "results.share": "Part",
        "results.suppressed": "« <{k} » : moins de {k} ménages ; « x » : caché pour ne pas "
        "permettre de retrouver une petite valeur par soustraction.",
        "results.overlapping": "Un ménage compte pour chaque besoin cité : les parts ne "
        "s'additionnent pas.",
        "results.too_few": "Moins de {k} ménages : rien ne peut être montré.",
        "results.no_report": "Cette enquête n'a pas de rapport de synthèse.",
        "results.bad_filter": "Filtre illisible : {problem}",
        "results.exports": "Télécharger les réponses (pseudonymisées)",
        "enumerators.title": "Enquêteurs en attente",
        "enumerators.none": "Aucune inscription en attente.",
        "enumerators.count": "{shown} sur {total} en attente, les plus anciennes d'abord.",
        "enumerators.registered": "Inscrit le",
        "enumerators.name": "Nom",
        "enumerators.phone": "Téléphone",
        "enumerators.region": "Région",
        "enumerators.site": "Site",
        "enumerators.approve": "Approuver",
        "enumerators.reject": "Refuser",
        "enumerators.approved": "{name} approuvé(e), code {code} ; le SMS est en file d'envoi.",
        "enumerators.rejected": "Inscription de {name} refusée.",
        "enumerators.cannot": "Cette décision n'est plus possible (déjà prise par quelqu'un "
        "d'autre ?).",
        "simulator.title": "Simulateur de téléphone",
        "simulator.intro": "Ce téléphone envoie à la passerelle exactement ce qu'envoie "
        "Africa's Talking. Les réponses sont de vraies données : utilisez un numéro de test.",
        "simulator.needs_js": "Le simulateur a besoin de JavaScript.",
        "simulator.number": "Numéro",
        "simulator.idle": "Appuyez sur Appeler pour composer {code}.",
        "simulator.dial": "Appeler {code}",
        "simulator.hangup": "Raccrocher",
        "simulator.send": "Envoyer",
        "simulator.answer": "Votre réponse",
        "simulator.message": "Votre SMS",
        "simulator.ended": "(session terminée)",
        "simulator.error": "Erreur de la passerelle",
        "simulator.no_sms": "Aucun message.",
        "simulator.sms_hint": "SMS au {shortcode}. Essayez ENQUETE, AIDE, STOP.",
    },
    "en": {
        "nav.campaigns": "Campaigns",
        "nav.results": "Results",
        "nav.enumerators": "Enumerators",
        "nav.simulator": "Simulator",
        "nav.logout": "Sign out",
        "role.viewer": "viewer",
        "role.manager": "manager",
        "role.admin": "admin",
        "login.title": "Sign in",
        "login.username": "Username",
        "login.password": "Password",
        "login.submit": "Sign in",
        "login.failed": "Wrong username or password.",
        "login.throttled": "Too many attempts for this username. Try again in 15 minutes.",
        "error.title": "Error",
        "error.csrf": "The form has expired. Reload the page and try again.",
        "error.too_large": "The file sent is too large.",
        "error.403": "Your role does not allow this page.",
        "error.404": "Page not found.",
        "error.other": "The request could not be done.",
        "error.back": "Back to the start page",
        "campaigns.title": "Campaigns",
        "campaigns.none": "No campaigns yet.",
        "campaigns.new": "New campaign",
        "campaigns.name": "Name",
        "campaigns.flow": "Survey",
        "campaigns.channel": "Channel",
        "campaigns.status": "Status",
        "campaigns.progress": "Progress",
        "campaigns.created": "Created",
        "campaigns.audience": "Phone numbers (CSV file)",
        "campaigns.audience_hint": "A 'phone' column (numbers as +223…), one row per household.",
        "campaigns.create": "Create the campaign",
        "campaigns.created_ok": "Campaign '{name}' created.",
        "campaigns.report": "Import report",
        "campaigns.imported": "Numbers imported",
        "campaigns.invalid": "Invalid rows",
        "campaigns.duplicates": "Duplicates",
        "campaigns.opted_out": "Opted out (STOP)",
        "campaigns.row": "Row",
        "campaigns.problem": "Problem",
        "campaigns.more_rows": "… and {count} more rows.",
        "campaigns.action.start": "Start",
        "campaigns.action.pause": "Pause",
        "campaigns.action.resume": "Resume",
        "campaigns.action.cancel": "Cancel the campaign",
        "campaigns.action_refused": "Not possible: {problem}",
        "campaigns.see_results": "See this campaign's results",
        "campaigns.total": "Total",
        "campaigns.no_file": "choose the CSV file of numbers",
        "campaigns.refused": "The campaign was not created: {problem}",
        "campaigns.done.start": "Campaign started: invitations go out within the sending hours.",
        "campaigns.done.pause": "Campaign paused: no more invitations go out.",
        "campaigns.done.resume": "Campaign resumed.",
        "campaigns.done.cancel": "Campaign cancelled.",
        "campaigns.state.draft": "draft",
        "campaigns.state.running": "running",
        "campaigns.state.paused": "paused",
        "campaigns.state.cancelled": "cancelled",
        "campaigns.state.completed": "completed",
        "campaigns.channel.sms": "SMS: the survey is taken by SMS",
        "campaigns.channel.ussd": "USSD: an SMS invites households to dial the USSD code",
        "campaigns.window": "Sending hours (every day)",
        "campaigns.timezone": "Time zone",
        "campaigns.start_at": "Not before (optional)",
        "campaigns.throttle": "Messages a second",
        "campaigns.invited_of": "{invited} of {contacts} invited",
        "campaigns.completed_of": "{completed} of {contacts} surveys completed",
        "campaigns.count.contacts": "Numbers",
        "campaigns.count.queued": "Waiting to be sent",
        "campaigns.count.sent": "Invitations sent",
        "campaigns.count.delivered": "Delivered (receipt)",
        "campaigns.count.failed": "Not delivered",
        "campaigns.count.started": "Surveys started",
        "campaigns.count.completed": "Surveys completed",
        "campaigns.count.declined": "Declined",
        "campaigns.count.expired": "Expired without a full answer",
        "campaigns.count.opted_out": "Opted out (STOP)",
        "campaigns.count.skipped": "Already surveyed",
        # Also what the API and the CLI say: change one and their answers change.
        "campaign_error.window_format": "the window '{window}' is not like 08:00-19:00",
        "campaign_error.window_time": "the window '{window}' has a time that does not exist",
        "campaign_error.window_order": "the window '{window}' must open before it closes, "
        "e.g. 08:00-19:00",
        "campaign_error.timezone": "'{name}' is not a time zone name; use one like Africa/Bamako",
        "campaign_error.name_control": "a campaign name is plain text, without control characters",
        "campaign_error.name_length": "a campaign needs a name of 1 to {max} characters",
        "campaign_error.unknown_flow": "there is no flow '{flow}' (known: {known})",
        "campaign_error.channel": "the channel must be sms or ussd, not '{channel}'",
        "campaign_error.throttle_range": "the throttle is {low} to {high} messages a second, "
        "not {given}",
        "campaign_error.throttle_number": "the throttle is a number of messages a second, e.g. 5",
        "campaign_error.start_at": "'{text}' is not a time like 2026-03-10T08:00",
        "campaign_error.range": "{what} must be from {low} to {high}, not {value}",
        "campaign_error.what.reminders": "reminders",
        "campaign_error.what.reminder_interval": "the reminder interval (hours)",
        "campaign_error.what.expiry": "the expiry (hours)",
        "campaign_error.what.retention": "the retention (days)",
        "campaign_error.ussd_flow": "a ussd campaign invites households to dial the USSD code, "
        "which reaches the flow '{ussd_flow}', not '{flow}': use --channel sms for this flow",
        "campaign_error.no_invitation": "the flow '{flow}' has no '{text}' text to invite "
        "households with: add one to the flow file",
        "campaign_error.ambiguous_id": "more than one campaign has an id starting '{prefix}'",
        "campaign_error.unknown_id": "no campaign has the id '{ident}' (see: campaign list)",
        "campaign_error.no_contacts": "campaign '{name}' has no contacts yet: import an audience "
        "first",
        "campaign_error.pause_not_started": "campaign '{name}' has not started: nothing to pause",
        "campaign_error.resume_not_started": "campaign '{name}' has not started yet: start it "
        "rather than resume it",
        "campaign_error.cancelled": "campaign '{name}' was cancelled and cannot {verb} again: "
        "create a new one",
        "campaign_error.verb.start": "start",
        "campaign_error.verb.pause": "pause",
        "campaign_error.verb.resume": "resume",
        "campaign_error.completed": "campaign '{name}' is completed: every contact was invited. "
        "Create a new campaign to invite them again",
        "campaign_error.moved": "campaign '{name}' is {status} now: try again if still needed",
        "campaign_error.closed_import": "campaign '{name}' is {status}: it takes no more "
        "contacts; create a new campaign",
        "campaign_error.too_many_rows": "a list holds at most {max} rows: split the file",
        "campaign_error.csv_empty": "the file is empty: it needs a header row naming a phone "
        "column",
        "campaign_error.csv_encoding": "row {row} is not UTF-8 text: save the file as "
        "'CSV UTF-8' and try again",
        "campaign_error.csv_unreadable": "row {row} cannot be read as CSV: {problem}",
        "campaign_error.no_phone_column": "the header row has no phone column: name the column "
        "of numbers 'phone' (or 'telephone', 'numero')",
        "campaign_row.no_phone": "no phone number",
        "campaign_row.not_a_number": "not a phone number ({masked})",
        "campaign_row.no_digits": "not a phone number (no digits)",
        "campaign_row.unknown_language": "unknown language (the survey offers {offered})",
        "campaign_row.long_region": "region longer than {max} characters",
        "results.title": "Results",
        "results.flow": "Survey",
        "results.campaign": "Campaign",
        "results.all_campaigns": "All",
        "results.since": "From",
        "results.until": "Until",
        "results.show": "Show",
        "results.households": "Households that completed",
        "results.people": "People",
        "results.answer": "Answer",
        "results.share": "Share",
        "results.suppressed": "'<{k}': fewer than {k} households; 'x': hidden so that a small "
        "value cannot be worked out by subtraction.",
        "results.overlapping": "A household counts under each need it cited: shares do not add up.",
        "results.too_few": "Fewer than {k} households: nothing can be shown.",
        "results.no_report": "This survey has no headline report.",
        "results.bad_filter": "Unreadable filter: {problem}",
        "results.exports": "Download the answers (pseudonymised)",
        "enumerators.title": "Enumerators awaiting approval",
        "enumerators.none": "No registrations waiting.",
        "enumerators.count": "{shown} of {total} waiting, oldest first.",
        "enumerators.registered": "Registered",
        "enumerators.name": "Name",
        "enumerators.phone": "Phone",
        "enumerators.region": "Region",
        "enumerators.site": "Site",
        "enumerators.approve": "Approve",
        "enumerators.reject": "Reject",
        "enumerators.approved": "{name} approved with code {code}; the SMS is queued.",
        "enumerators.rejected": "{name}'s registration rejected.",
        "enumerators.cannot": "This decision is no longer possible (made by someone else?).",
        "simulator.title": "Phone simulator",
        "simulator.intro": "This phone sends the gateway exactly what Africa's Talking sends. "
        "Answers are real data: use a test number.",
        "simulator.needs_js": "The simulator needs JavaScript.",
        "simulator.number": "Number",
        "simulator.idle": "Press Call to dial {code}.",
        "simulator.dial": "Call {code}",
        "simulator.hangup": "Hang up",
        "simulator.send": "Send",
        "simulator.answer": "Your answer",
        "simulator.message": "Your SMS",
        "simulator.ended": "(session ended)",
        "simulator.error": "Gateway error",
        "simulator.no_sms": "No messages.",
        "simulator.sms_hint": "SMS to {shortcode}. Try SURVEY, HELP, STOP.",
    },
}


@dataclass(frozen=True, slots=True, init=False)
class Message:
    """A text to be read in the reader's language: its key and the values that fill it in.

    A value may itself be a ``Message`` (a campaign's status), said in the same language.
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
    """A value as the reader writes it: a Message in their language, a decimal with their
    separator (0,5 in French)."""
    if isinstance(value, Message):
        return value.in_language(language)
    if isinstance(value, float):
        written = format(value, "g")
        return written.replace(".", ",") if language in DECIMAL_COMMA else written
    return value


def missing_keys() -> dict[str, list[str]]:
    """Per language, the keys another language has and it lacks (empty when complete)."""
    every = set().union(*(texts.keys() for texts in TEXTS.values()))
    return {lang: sorted(every - TEXTS[lang].keys()) for lang in LANGUAGES}
