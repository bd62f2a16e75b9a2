"""Card keys at rest: AES-256-GCM, plus a keyed fingerprint for duplicate checks."""

from __future__ import annotations

import hashlib
import hmac
import json
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE = 12
_AAD = b"kameng-card-key-v1"


class CardKeyCipher:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("AES-256 key must be 32 bytes")
        self._aead = AESGCM(key)
        self._fp_key = hashlib.sha256(b"fingerprint\x00" + key).digest()

    def seal(self, number: str, password: str) -> bytes:
        nonce = os.urandom(_NONCE)
        plain = json.dumps([number, password], ensure_ascii=False).encode()
        return nonce + self._aead.encrypt(nonce, plain, _AAD)

    def open(self, blob: bytes) -> tuple[str, str]:
        plain = self._aead.decrypt(blob[:_NONCE], blob[_NONCE:], _AAD)
        number, password = json.loads(plain)
        return str(number), str(password)

    def fingerprint(self, number: str) -> bytes:
        """Same card number -> same fingerprint, without storing the number in clear."""
        return hmac.new(self._fp_key, number.encode(), hashlib.sha256).digest()[:16]
