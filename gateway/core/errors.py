"""Errors raised by the gateway.

GatewayError
├── ConfigError          a setting is missing or wrong; the process refuses to start
└── SendError            an outbound message could not be handed to the network
    ├── TransientSendError   worth retrying later (network down, AT 5xx)
    └── PermanentSendError   retrying cannot help (invalid number, bad sender id)
"""

from __future__ import annotations


class GatewayError(Exception):
    """Base class of the gateway's own errors."""


class ConfigError(GatewayError):
    """A setting is missing or wrong; the message names it."""


class SendError(GatewayError):
    """An outbound message could not be handed to the network."""


class TransientSendError(SendError):
    """Sending failed in a way that a later retry may fix."""


class PermanentSendError(SendError):
    """Sending failed in a way that no retry can fix."""


class SendOutcomeUnknown(PermanentSendError):
    """The request reached AT but no usable answer came back: the SMS may have gone out."""
