"""Failed-attempt throttle: what the orders domain needs to stop password guessing.

The implementation keeps its counters in PostgreSQL, shared by every web
process (kameng.limits.service.RuleThrottle).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol


class AttemptThrottle(Protocol):
    limit: int
    window: timedelta

    async def blocked(self, key: str, now: datetime) -> bool: ...

    async def failed(self, key: str, now: datetime) -> None: ...
