"""Query passwords (查询密码): a keyed hash, cheap enough for the event loop.

Stored as ``$kqp1$<key id>$<salt>$<mac>``: HMAC-SHA256, under a key derived from
the shop's secret, of a random per-order salt and the password. A query
password is short and wrong tries are throttled, so what stops offline cracking
of a leaked database is the key, which is not in the database, not a work
factor; checking costs microseconds. The key id lets hashes made under an old
secret (KAMENG_OLD_SECRET_KEYS) keep working after a rotation.

Hashes from before (``$argon2id$...``, ~80 ms of CPU) still verify, in a
worker thread so that they never block the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
from collections.abc import Sequence

SCHEME = "$kqp1$"
_SALT = 16
_KEY_ID = 4


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key_id(key: bytes) -> str:
    return _b64(hashlib.sha256(b"kameng-password-key-id\x00" + key).digest()[:_KEY_ID])


def _mac(key: bytes, salt: bytes, password: str) -> bytes:
    return hmac.new(key, salt + password.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()


class QueryPasswords:
    """Hashes under ``key``; verifies under ``key`` or any of ``old_keys``."""

    def __init__(self, key: bytes, old_keys: Sequence[bytes] = ()) -> None:
        self._key = key
        self._key_id = _key_id(key)
        self._by_id = {_key_id(k): k for k in (*old_keys, key)}

    def hash(self, password: str) -> str:
        salt = os.urandom(_SALT)
        return f"{SCHEME}{self._key_id}${_b64(salt)}${_b64(_mac(self._key, salt, password))}"

    def verify_keyed(self, stored: str | None, password: str | None) -> bool:
        """Check a keyed hash (False for any other kind of stored value)."""
        if not stored or not password or not stored.startswith(SCHEME):
            return False
        kid, _, rest = stored[len(SCHEME) :].partition("$")
        salt_text, _, mac_text = rest.partition("$")
        key = self._by_id.get(kid)
        if key is None or not salt_text or not mac_text:
            return False
        try:
            salt, mac = _unb64(salt_text), _unb64(mac_text)
        except ValueError:
            return False
        return hmac.compare_digest(_mac(key, salt, password), mac)

    async def verify(self, stored: str | None, password: str | None) -> bool:
        """True when ``password`` matches ``stored``; never blocks the event loop."""
        if stored and password and is_legacy(stored):
            return await asyncio.to_thread(_verify_argon2, stored, password)
        return self.verify_keyed(stored, password)


def is_legacy(stored: str) -> bool:
    return stored.startswith("$argon2")


def _verify_argon2(stored: str, password: str) -> bool:
    from argon2 import PasswordHasher
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return PasswordHasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False
