"""Browser tokens: proof that this browser placed the order (HMAC, no storage)."""

from __future__ import annotations

import base64
import hashlib
import hmac


def order_token(secret: bytes, order_no: str) -> str:
    mac = hmac.new(secret, b"order-owner:" + order_no.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:18]).decode()


def check_order_token(secret: bytes, order_no: str, token: str | None) -> bool:
    if not token:
        return False
    return hmac.compare_digest(order_token(secret, order_no), token)
