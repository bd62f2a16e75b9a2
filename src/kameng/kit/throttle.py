"""Failed-attempt throttle: stops guessing an order's query password.

Kept in process memory: with N web workers an attacker gets at most N times
the budget, which still turns a brute force into years. A shared store
(PostgreSQL or Redis) can replace it behind the same two calls.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta


class AttemptThrottle:
    def __init__(self, *, limit: int, window: timedelta, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self._max_keys = max_keys
        self._failures: dict[str, deque[datetime]] = {}

    def _recent(self, key: str, now: datetime) -> deque[datetime]:
        failures = self._failures.get(key)
        if failures is None:
            return deque()
        while failures and now - failures[0] >= self.window:
            failures.popleft()
        if not failures:
            del self._failures[key]
        return failures

    def blocked(self, key: str, now: datetime) -> bool:
        return len(self._recent(key, now)) >= self.limit

    def failed(self, key: str, now: datetime) -> None:
        if key not in self._failures and len(self._failures) >= self._max_keys:
            # Bounded memory: forget the oldest-inserted key.
            self._failures.pop(next(iter(self._failures)))
        self._failures.setdefault(key, deque()).append(now)
