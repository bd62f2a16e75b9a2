"""Card-key ciphertexts: key id, binding to the row, legacy format, several keys."""

from __future__ import annotations

import pytest

from kameng.kit.crypto import CardKeyCipher, CardKeyUnreadable, key_id, seal_legacy

A = b"a" * 32
B = b"b" * 32


def test_a_sealed_key_opens_for_its_row_only() -> None:
    cipher = CardKeyCipher(A)
    fp = cipher.fingerprint("N1")
    blob = cipher.seal("N1", "P1", product_id=7, fingerprint=fp)
    assert blob[:5] == b"\x01" + key_id(A)
    assert b"N1" not in blob and b"P1" not in blob
    assert cipher.open(blob, product_id=7, fingerprint=fp) == ("N1", "P1")
    with pytest.raises(CardKeyUnreadable):
        cipher.open(blob, product_id=8, fingerprint=fp)  # same card, another product
    with pytest.raises(CardKeyUnreadable):
        cipher.open(blob, product_id=7, fingerprint=cipher.fingerprint("N2"))  # another row


def test_a_tampered_ciphertext_does_not_open() -> None:
    cipher = CardKeyCipher(A)
    fp = cipher.fingerprint("N1")
    blob = bytearray(cipher.seal("N1", "P1", product_id=7, fingerprint=fp))
    blob[-1] ^= 1
    with pytest.raises(CardKeyUnreadable):
        cipher.open(bytes(blob), product_id=7, fingerprint=fp)


def test_legacy_ciphertexts_open_under_any_configured_key() -> None:
    legacy = seal_legacy(A, "N1", "P1")
    assert CardKeyCipher(A).open(legacy, product_id=1, fingerprint=b"x") == ("N1", "P1")
    assert CardKeyCipher(B, [A]).open(legacy, product_id=1, fingerprint=b"x") == ("N1", "P1")
    with pytest.raises(CardKeyUnreadable):
        CardKeyCipher(B).open(legacy, product_id=1, fingerprint=b"x")


def test_old_keys_open_and_the_current_key_seals() -> None:
    old = CardKeyCipher(A)
    fp = old.fingerprint("N1")
    blob = old.seal("N1", "P1", product_id=3, fingerprint=fp)
    rotated = CardKeyCipher(B, [A])
    assert rotated.open(blob, product_id=3, fingerprint=fp) == ("N1", "P1")
    assert not rotated.is_current(blob)
    resealed = rotated.seal("N1", "P1", product_id=3, fingerprint=rotated.fingerprint("N1"))
    assert rotated.is_current(resealed) and resealed[1:5] == key_id(B)
    with pytest.raises(CardKeyUnreadable, match=key_id(A).hex()):
        CardKeyCipher(B).open(blob, product_id=3, fingerprint=fp)  # A removed


def test_fingerprints_depend_on_the_key() -> None:
    assert CardKeyCipher(A).fingerprint("N1") == CardKeyCipher(A, [B]).fingerprint("N1")
    assert CardKeyCipher(A).fingerprint("N1") != CardKeyCipher(B).fingerprint("N1")
