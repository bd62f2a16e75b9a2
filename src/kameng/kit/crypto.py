"""Card keys at rest: AES-256-GCM, plus a keyed fingerprint for duplicate checks.

A sealed card key is ``01 | key id (4) | nonce (12) | ciphertext``. The key id
names the encryption key (so a shop can hold several while it rotates) and the
associated data binds the ciphertext to its row, ``(product id, fingerprint)``,
which is unique in ``card_keys`` and known before the row exists (the importer
COPYs): a ciphertext copied into another row does not open.

Ciphertexts from before key ids (``nonce | ciphertext`` with a fixed
associated data) still open, under any configured key, until
``kameng rekey-cards`` rewrites them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE = 12
_VERSION = b"\x01"
_KEY_ID = 4
_HEADER = len(_VERSION) + _KEY_ID
_AAD = b"kameng-card-key-v2\x00"
_LEGACY_AAD = b"kameng-card-key-v1"


class CardKeyUnreadable(Exception):
    """No configured key opens this ciphertext for this row."""


def key_id(key: bytes) -> bytes:
    """A short public name of an encryption key (it reveals nothing of it)."""
    return hashlib.sha256(b"kameng-key-id\x00" + key).digest()[:_KEY_ID]


class CardKeyCipher:
    """Seals with ``key``; opens with ``key`` or any of ``old_keys``."""

    def __init__(self, key: bytes, old_keys: Sequence[bytes] = ()) -> None:
        for k in (key, *old_keys):
            if len(k) != 32:
                raise ValueError("AES-256 key must be 32 bytes")
        self.key_id = key_id(key)
        self._aead = AESGCM(key)
        self._fp_key = hashlib.sha256(b"fingerprint\x00" + key).digest()
        self._by_id = {key_id(k): AESGCM(k) for k in (*old_keys, key)}
        # Legacy ciphertexts name no key: try the current one first.
        self._all = [self._aead, *(AESGCM(k) for k in old_keys if k != key)]

    @property
    def has_old_keys(self) -> bool:
        return len(self._by_id) > 1

    @property
    def prefix(self) -> bytes:
        """How every ciphertext sealed by this cipher starts."""
        return _VERSION + self.key_id

    def seal(self, number: str, password: str, *, product_id: int, fingerprint: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        plain = json.dumps([number, password], ensure_ascii=False).encode()
        aad = _row_aad(self.key_id, product_id, fingerprint)
        return self.prefix + nonce + self._aead.encrypt(nonce, plain, aad)

    def open(self, blob: bytes, *, product_id: int, fingerprint: bytes) -> tuple[str, str]:
        blob = bytes(blob)
        plain = self._open_current_format(blob, product_id, fingerprint)
        if plain is None:
            plain = self._open_legacy(blob)
        if plain is None:
            named = blob[1:_HEADER].hex() if blob[:1] == _VERSION else "none (legacy format)"
            raise CardKeyUnreadable(
                f"card key of product {product_id} does not open (key id {named}; "
                f"keys configured: {', '.join(k.hex() for k in self._by_id)})"
            )
        number, password = json.loads(plain)
        return str(number), str(password)

    def is_current(self, blob: bytes) -> bool:
        """Sealed under the current key in the current format (rekey skips it)."""
        return bytes(blob[:_HEADER]) == self.prefix

    def fingerprint(self, number: str) -> bytes:
        """Same card number -> same fingerprint, without storing the number in clear."""
        return hmac.new(self._fp_key, number.encode(), hashlib.sha256).digest()[:16]

    def _open_current_format(
        self, blob: bytes, product_id: int, fingerprint: bytes
    ) -> bytes | None:
        if blob[:1] != _VERSION or len(blob) < _HEADER + _NONCE:
            return None
        kid = blob[1:_HEADER]
        aead = self._by_id.get(kid)
        if aead is None:
            return None
        nonce = blob[_HEADER : _HEADER + _NONCE]
        try:
            return aead.decrypt(
                nonce, blob[_HEADER + _NONCE :], _row_aad(kid, product_id, fingerprint)
            )
        except InvalidTag:
            return None

    def _open_legacy(self, blob: bytes) -> bytes | None:
        for aead in self._all:
            try:
                return aead.decrypt(blob[:_NONCE], blob[_NONCE:], _LEGACY_AAD)
            except InvalidTag:
                continue
        return None


def _row_aad(kid: bytes, product_id: int, fingerprint: bytes) -> bytes:
    return _AAD + kid + product_id.to_bytes(8, "big", signed=True) + bytes(fingerprint)


def seal_legacy(key: bytes, number: str, password: str) -> bytes:
    """A ciphertext in the format used before key ids (tests of old stock only)."""
    nonce = os.urandom(_NONCE)
    plain = json.dumps([number, password], ensure_ascii=False).encode()
    return nonce + AESGCM(key).encrypt(nonce, plain, _LEGACY_AAD)
