"""Errors raised by the gateway.

GatewayError
├── ConfigError          a setting is missing or wrong; the process refuses to start
├── DomainError          a staff request that cannot be done; carries its HTTP status
│   ├── CampaignError        (gateway.campaigns)
│   ├── EnumeratorError      (gateway.enumerators)
│   ├── ExportError          (gateway.results.services)
│   └── StaffError           (gateway.staff.errors)
└── SendError            an outbound message could not be handed to the network
    ├── TransientSendError   worth retrying later (network down, AT 5xx)
    └── PermanentSendError   retrying cannot help (invalid number, bad sender id)
"""

from __future__ import annotations

from typing import Literal

from gateway.core.i18n import Translatable

# What an API answers a refusal with: 401 unknown credentials, 404 nothing has that id, 409 the
# object's state (or a name already taken) forbids it, 422 a value out of bounds.
DomainStatus = Literal[401, 404, 409, 422]


class GatewayError(Exception):
    """Base class of the gateway's own errors."""


class ConfigError(GatewayError):
    """A setting is missing or wrong; the message names it."""


class DomainError(GatewayError):
    """A staff request that cannot be done, said so a person can act on it.

    ``reason`` is a ``Translatable`` the dashboard says in the reader's language; ``str()`` is its
    English, what the API and the CLI answer. A reason given as plain text is said as it is.
    ``status`` is the HTTP status the API answers with; every surface shows the same reason.
    """

    def __init__(self, reason: Translatable | str, status: DomainStatus = 422) -> None:
        super().__init__(reason if isinstance(reason, str) else reason.in_language("en"))
        self.reason = reason
        self.status: DomainStatus = status

    def in_language(self, language: str) -> str:
        """Why, in ``language``."""
        return self.reason if isinstance(self.reason, str) else self.reason.in_language(language)


class SendError(GatewayError):
    """An outbound message could not be handed to the network."""


class TransientSendError(SendError):
    """Sending failed in a way that a later retry may fix."""


class PermanentSendError(SendError):
    """Sending failed in a way that no retry can fix."""


class SendOutcomeUnknown(PermanentSendError):
    """The request reached AT but no usable answer came back: the SMS may have gone out."""
