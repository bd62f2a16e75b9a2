"""Injectable time. Code asks ``clock.now()``; tests swap in a FrozenClock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    def __init__(self, at: datetime) -> None:
        self._at = at

    def now(self) -> datetime:
        return self._at

    def advance(self, **kwargs: float) -> None:
        self._at += timedelta(**kwargs)


_current: Clock = SystemClock()


def now() -> datetime:
    return _current.now()


def set_clock(clock: Clock) -> Clock:
    """Install ``clock``; returns the previous one so callers can restore it."""
    global _current
    previous, _current = _current, clock
    return previous
