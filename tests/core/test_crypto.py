from __future__ import annotations

import re
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from gateway.core.crypto import (
    REFERENCE_ALPHABET,
    InvalidToken,
    NumberCipher,
    normalise_reference,
    pseudonymise,
    reference_code,
)
from gateway.core.settings import Settings

NUMBER = "+22376123456"


def test_pseudonym_is_stable_hex_and_differs_per_secret() -> None:
    first = pseudonymise(NUMBER, "secret-one")
    assert first == pseudonymise(NUMBER, "secret-one")
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert first != pseudonymise(NUMBER, "secret-two")
    assert first != pseudonymise("+22376123457", "secret-one")
    assert "76123456" not in first


def test_pseudonym_refuses_numbers_not_in_e164_form() -> None:
    for bad in ("76123456", "0022376123456", "+223 76 12 34 56", ""):
        with pytest.raises(ValueError):
            pseudonymise(bad, "secret")
    with pytest.raises(ValueError):
        pseudonymise(NUMBER, "")


def test_cipher_round_trip_hides_the_number() -> None:
    cipher = NumberCipher([Fernet.generate_key().decode()])
    token = cipher.encrypt(NUMBER)
    assert "76123456" not in token
    assert token != cipher.encrypt(NUMBER)  # random IV: equal numbers do not look equal
    assert cipher.decrypt(token) == NUMBER


def test_key_rotation() -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = NumberCipher([old_key]).encrypt(NUMBER)

    rotated_cipher = NumberCipher([new_key, old_key])
    assert rotated_cipher.decrypt(token) == NUMBER
    rotated = rotated_cipher.rotate(token)
    assert rotated_cipher.decrypt(rotated) == NUMBER
    # Re-encrypted under the new key: the old key alone can no longer read it...
    with pytest.raises(InvalidToken):
        NumberCipher([old_key]).decrypt(rotated)
    # ...and the new key alone can, so the old key can be retired.
    assert NumberCipher([new_key]).decrypt(rotated) == NUMBER
    with pytest.raises(InvalidToken):
        NumberCipher([new_key]).decrypt(token)


def test_cipher_from_settings(tmp_path: Path) -> None:
    keys = [Fernet.generate_key().decode(), Fernet.generate_key().decode()]
    settings = Settings.from_env(
        {
            "GATEWAY_VAR_DIR": str(tmp_path / "var"),
            "GATEWAY_ENCRYPTION_KEYS": ",".join(keys),
            "GATEWAY_SECRET_KEY": "s",
        }
    )
    token = NumberCipher.from_settings(settings).encrypt(NUMBER)
    assert NumberCipher(keys[:1]).decrypt(token) == NUMBER  # the first key is current


def test_cipher_needs_keys() -> None:
    with pytest.raises(ValueError):
        NumberCipher([])
    with pytest.raises(TypeError):
        NumberCipher(Fernet.generate_key().decode())


def test_reference_code_is_short_stable_and_readable() -> None:
    run_id = "5f0c1a52-8d5e-4b8e-9a57-3c1c2b8f7a10"
    code = reference_code(run_id)
    assert code == reference_code(run_id)
    assert len(code) == 6
    assert set(code) <= set(REFERENCE_ALPHABET)
    assert not set(code) & set("ILOU")
    assert code != reference_code(run_id.replace("5f0c", "5f0d"))
    # Spread over the alphabet, not stuck on a few characters.
    codes = {reference_code(f"run-{i}") for i in range(2000)}
    assert len(codes) == 2000
    assert set("".join(codes)) == set(REFERENCE_ALPHABET)


def test_normalise_reference_reads_what_people_type() -> None:
    assert normalise_reference("ab1-2cd") == "AB12CD"
    assert normalise_reference(" ol1i2z ") == "01112Z"
    assert normalise_reference("AB12C") is None
    assert normalise_reference("AB12CU") is None
