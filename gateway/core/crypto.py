"""Pseudonyms, phone-number encryption, reference codes, and the staff password hasher.

A respondent is known only by a pseudonym: HMAC-SHA256 of the E.164 number under the server
secret key. A raw number is kept only where a message must be sent, and then encrypted with
Fernet under ``GATEWAY_ENCRYPTION_KEYS`` (the first key encrypts, every key decrypts, so keys
can be rotated without a flag day).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence

from argon2 import Parameters, PasswordHasher, profiles
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from gateway.core.settings import PasswordHashProfile, Settings

__all__ = [
    "REFERENCE_ALPHABET",
    "REFERENCE_LENGTH",
    "InvalidToken",
    "NumberCipher",
    "normalise_reference",
    "password_hasher",
    "pseudonymise",
    "reference_code",
]

# E.164: a plus, a country code that does not start with 0, at most 15 digits in all.
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")

# Crockford's base32: digits and letters without I, L, O and U, which are misread or rude.
REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE_LENGTH = 6
# A fixed prefix keeps these hashes apart from any other use of SHA-256 over a run id.
_REFERENCE_DOMAIN = b"survey-gateway/reference/v1\x00"
# Crockford's reading rules: what a person may type for a look-alike symbol.
_REFERENCE_READING = str.maketrans({"I": "1", "L": "1", "O": "0"})


def _check_e164(e164: str) -> str:
    if not _E164.fullmatch(e164):
        # A number in another form would get another pseudonym: refuse rather than split a person.
        raise ValueError("expected a phone number in E.164 form, like +22376123456")
    return e164


def pseudonymise(e164: str, secret_key: str) -> str:
    """Return the respondent's pseudonym: HMAC-SHA256 of the E.164 number, in hex (64 chars)."""
    if not secret_key:
        raise ValueError("pseudonymise needs a non-empty secret key")
    message = _check_e164(e164).encode("ascii")
    return hmac.new(secret_key.encode("utf-8"), message, hashlib.sha256).hexdigest()


class NumberCipher:
    """Encrypts phone numbers under the current key; decrypts under any configured key."""

    __slots__ = ("_fernet",)

    def __init__(self, keys: Sequence[str]) -> None:
        if isinstance(keys, str):
            raise TypeError("NumberCipher takes a sequence of keys, not one string")
        if not keys:
            raise ValueError("NumberCipher needs at least one Fernet key")
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    @classmethod
    def from_settings(cls, settings: Settings) -> NumberCipher:
        """Build the cipher from ``settings.encryption_keys`` (first key is the current one)."""
        return cls(settings.encryption_keys)

    def encrypt(self, e164: str) -> str:
        """Encrypt an E.164 number under the current key; returns a Fernet token."""
        return self._fernet.encrypt(_check_e164(e164).encode("ascii")).decode("ascii")

    def decrypt(self, token: str) -> str:
        """Decrypt a token made under any configured key; raises ``InvalidToken`` otherwise."""
        return self._fernet.decrypt(token.encode("ascii")).decode("ascii")

    def encrypt_bytes(self, data: bytes) -> str:
        """Encrypt any bytes (a piece of an uploaded list) under the current key."""
        return self._fernet.encrypt(data).decode("ascii")

    def decrypt_bytes(self, token: str) -> bytes:
        """Decrypt bytes encrypted under any configured key; raises ``InvalidToken`` otherwise."""
        return self._fernet.decrypt(token.encode("ascii"))

    def rotate(self, token: str) -> str:
        """Re-encrypt a token under the current key; raises ``InvalidToken`` if no key opens it."""
        return self._fernet.rotate(token.encode("ascii")).decode("ascii")


def reference_code(run_id: str) -> str:
    """Return the run's 6-character reference (Crockford base32), the same for every call."""
    digest = hashlib.sha256(_REFERENCE_DOMAIN + run_id.encode("utf-8")).digest()
    bits = REFERENCE_LENGTH * 5
    number = int.from_bytes(digest[:8], "big") >> (64 - bits)
    chars = [REFERENCE_ALPHABET[(number >> shift) & 0x1F] for shift in range(bits - 5, -1, -5)]
    return "".join(chars)


def normalise_reference(text: str) -> str | None:
    """Read a reference as a person typed it (case, spaces, I/L/O); None if it cannot be one."""
    cleaned = "".join(text.split()).replace("-", "").upper().translate(_REFERENCE_READING)
    if len(cleaned) != REFERENCE_LENGTH or any(c not in REFERENCE_ALPHABET for c in cleaned):
        return None
    return cleaned


_HASH_PROFILES: dict[PasswordHashProfile, Parameters] = {
    PasswordHashProfile.RFC_9106_LOW_MEMORY: profiles.RFC_9106_LOW_MEMORY,
    PasswordHashProfile.RFC_9106_HIGH_MEMORY: profiles.RFC_9106_HIGH_MEMORY,
    PasswordHashProfile.CHEAPEST: profiles.CHEAPEST,
}


def password_hasher(profile: PasswordHashProfile) -> PasswordHasher:
    """The argon2id hasher of a cost profile; it verifies hashes made under any profile."""
    return PasswordHasher.from_parameters(_HASH_PROFILES[profile])
