"""易支付 (epay) V1 MD5 signing, exactly as Rainbow Epay's Payment::makeSign.

Drop ``sign``, ``sign_type`` and empty values; sort keys by ASCII; join
``k=v`` with ``&`` using the raw (not URL-encoded) values; append the merchant
key with no separator; MD5, lowercase hex. Shared by the adapter and the
sandbox so both sides of the wire agree by construction, and tested against a
hand-computed vector so they cannot drift together.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

UNSIGNED = frozenset({"sign", "sign_type"})


def signing_string(params: Mapping[str, str]) -> str:
    items = sorted((k, v) for k, v in params.items() if k not in UNSIGNED and v != "")
    return "&".join(f"{k}={v}" for k, v in items)


def sign(params: Mapping[str, str], key: str) -> str:
    return hashlib.md5((signing_string(params) + key).encode()).hexdigest()


def verify(params: Mapping[str, str], key: str) -> bool:
    """Fails closed: an empty key never verifies anything (a peer's bug)."""
    given = params.get("sign", "")
    if not key or not given:
        return False
    # Bytes, not str: compare_digest refuses non-ASCII text, and a forged
    # non-ASCII sign must be a wrong signature like any other.
    return hmac.compare_digest(sign(params, key).encode(), given.lower().encode())
