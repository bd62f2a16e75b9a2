"""The proof-of-work check (ALTCHA) asked for after repeated lookup misses.

Works offline: the challenge is signed here (HMAC, key derived from the shop's
secret), solved by the browser with the vendored widget
(static/vendor/altcha), verified here; nothing leaves the shop. A solution is
accepted once (its signature is counted in the rate-limit table) and only
before the challenge expires.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import altcha

from kameng.limits.service import Rule
from kameng.web.runtime import Runtime

ALGORITHM = "PBKDF2/SHA-256"
COST = 1000  # ~256 tries × 1000 iterations: well under a second in a browser
LIFETIME = timedelta(minutes=10)
USED_ONCE = Rule("altcha-used", 1, LIFETIME * 2)


def _secret(rt: Runtime) -> bytes:
    return rt.settings.derived_key("altcha")


def challenge(rt: Runtime, now: datetime) -> dict[str, Any]:
    made = altcha.create_challenge(
        ALGORITHM, COST, expires_at=int((now + LIFETIME).timestamp()), hmac_secret=_secret(rt)
    )
    result: dict[str, Any] = made.to_dict()
    return result


async def accept(rt: Runtime, payload: str, now: datetime) -> bool:
    try:
        verified = altcha.verify_solution(payload, _secret(rt))
    except Exception:
        return False
    if not getattr(verified, "verified", False):
        return False
    return await rt.limiter.hit(USED_ONCE, payload, now) == 1
