"""How often tickets may be opened and written to, from one address and for one
order or ticket (counters in PostgreSQL, ``kameng.limits``, shared by every web
process). The page and the JSON API spend the same budgets.

The check comes before the work and the count after its commit, so only what
went through counts: a refused message (empty, closed ticket) costs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from kameng.kit.errors import DomainError
from kameng.limits.service import Limiter, Rule

TICKETS_PER_ADDRESS = Rule("ticket-address", 5, timedelta(hours=1))
TICKETS_PER_ORDER = Rule("ticket-order", 5, timedelta(days=1))
MESSAGES_PER_ADDRESS = Rule("ticket-message-address", 20, timedelta(hours=1))
MESSAGES_PER_TICKET = Rule("ticket-message-ticket", 10, timedelta(days=1))

Budget = Sequence[tuple[Rule, str]]


def opening(address: str, order_no: str) -> Budget:
    """A new ticket: per address and per order."""
    return ((TICKETS_PER_ADDRESS, address), (TICKETS_PER_ORDER, order_no))


def following_up(address: str, ticket_no: str) -> Budget:
    """A buyer's further message: per address and per ticket."""
    return ((MESSAGES_PER_ADDRESS, address), (MESSAGES_PER_TICKET, ticket_no))


async def refuse_if_spent(
    limiter: Limiter, budget: Budget, refusal: type[DomainError], now: datetime
) -> None:
    """Raise ``refusal(minutes=…)`` for the first rule of ``budget`` used up."""
    for rule, subject in budget:
        if await limiter.exceeded(rule, subject, now):
            raise refusal(minutes=rule.minutes)


async def spend(limiter: Limiter, budget: Budget, now: datetime) -> None:
    for rule, subject in budget:
        await limiter.hit(rule, subject, now)
