"""A value rebuilt at most once per ``ttl`` seconds per process (read-mostly data
such as the product list): concurrent readers of a stale value wait for one
rebuild instead of each running it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Snapshot(Generic[T]):
    def __init__(self, load: Callable[[], Awaitable[T]], *, ttl: float) -> None:
        self._load = load
        self.ttl = ttl
        self._value: T | None = None
        self._taken = float("-inf")  # monotonic time the value was read
        self._lock = asyncio.Lock()

    def _fresh(self) -> bool:
        return self._value is not None and time.monotonic() - self._taken < self.ttl

    async def get(self) -> T:
        if self._fresh():
            return self._value  # type: ignore[return-value]
        async with self._lock:
            if not self._fresh():  # another reader may have rebuilt it meanwhile
                taken = time.monotonic()  # before the read: age counts from the query
                self._value = await self._load()
                self._taken = taken
            return self._value  # type: ignore[return-value]

    def invalidate(self) -> None:
        self._taken = float("-inf")
