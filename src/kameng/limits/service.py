"""Rate limits shared by every web process and surviving restarts.

Counters live in PostgreSQL (table ``rate_limits``), one row per rule and
subject, so no attacker can evict a live counter by filling memory, and N web
processes share one budget. Subjects (addresses, order numbers, contacts) are
stored hashed. A counter is one statement committed on its own
(``single_statements``: one round trip on the web's autocommit pools), so a
wrong password counts even though the request that saw it answers with an
error and rolls its own transaction back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from psycopg_pool import AsyncConnectionPool

from kameng.db.connection import Conn, single_statements
from kameng.limits import repository


@dataclass(frozen=True, slots=True)
class Rule:
    scope: str
    limit: int
    window: timedelta

    def key(self, subject: str) -> str:
        digest = hashlib.sha256(f"{self.scope}\x00{subject}".encode()).hexdigest()[:40]
        return f"{self.scope}:{digest}"

    @property
    def minutes(self) -> int:
        return int(self.window.total_seconds() // 60)


# Wrong query passwords per order (orders.service.may_see_goods).
PASSWORD_PER_ORDER = Rule("password-order", 10, timedelta(minutes=15))


class Limiter:
    def __init__(self, pool: AsyncConnectionPool[Conn]) -> None:
        self._pool = pool

    async def hit(self, rule: Rule, subject: str, now: datetime) -> int:
        """Count one event for ``subject``; the count in the current window."""
        # One upsert: its own unit of work (no BEGIN/COMMIT round trips).
        async with single_statements(self._pool) as conn:
            return await repository.hit(conn, rule.key(subject), now=now, window=rule.window)

    async def hit_and_count(
        self,
        rule: Rule,
        subject: str,
        now: datetime,
        reads: Sequence[tuple[Rule, str | None]],
    ) -> tuple[int, list[int]]:
        """Count one event for ``subject`` on ``rule`` and read the current counts
        of ``reads`` (0 for a None subject), in one statement / round trip."""
        async with single_statements(self._pool) as conn:
            return await repository.hit_and_read(
                conn,
                rule.key(subject),
                now=now,
                window=rule.window,
                reads=[(r.key(s) if s is not None else None, r.window) for r, s in reads],
            )

    async def count(self, rule: Rule, subject: str, now: datetime) -> int:
        async with single_statements(self._pool) as conn:
            return await repository.current(conn, rule.key(subject), now=now, window=rule.window)

    async def exceeded(self, rule: Rule, subject: str, now: datetime) -> bool:
        return await self.count(rule, subject, now) >= rule.limit


class RuleThrottle:
    """The orders domain's failed-attempt throttle on one rule."""

    def __init__(self, limiter: Limiter, rule: Rule) -> None:
        self._limiter = limiter
        self._rule = rule
        self.limit = rule.limit
        self.window = rule.window

    async def blocked(self, key: str, now: datetime) -> bool:
        return await self._limiter.exceeded(self._rule, key, now)

    async def failed(self, key: str, now: datetime) -> None:
        await self._limiter.hit(self._rule, key, now)


async def forget_stale(conn: Conn, *, now: datetime) -> None:
    """Counters whose window ended a day ago can go (kept by no rule longer)."""
    await repository.delete_stale(conn, before=now - timedelta(days=1))
