"""The order state machine: the only code that changes ``orders.status``.

Each change is one guarded ``UPDATE … WHERE status = ANY(allowed sources)``
that also appends the timeline event, in one statement, in the caller's
transaction. A row count of 0 means the order was not in a state the change
may leave from, and nothing is written.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from kameng.kit.errors import IllegalTransition


class OrderStatus(StrEnum):
    UNPAID = "unpaid"  # 待支付: number issued, waiting for the buyer to pay
    EXPIRED = "expired"  # 已过期: not paid in time; a late payment still revives it
    PAID = "paid"  # 已支付: money in, goods being allocated (inside the same transaction)
    AWAITING_STOCK = "awaiting_stock"  # 已支付·待补货: paid, not enough keys yet
    DELIVERED = "delivered"  # 已发货: every key bought is delivered


ALLOWED: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.UNPAID: frozenset({OrderStatus.PAID, OrderStatus.EXPIRED}),
    # A payment that arrives after expiry is honoured, never dropped.
    OrderStatus.EXPIRED: frozenset({OrderStatus.PAID}),
    OrderStatus.PAID: frozenset({OrderStatus.DELIVERED, OrderStatus.AWAITING_STOCK}),
    OrderStatus.AWAITING_STOCK: frozenset({OrderStatus.DELIVERED}),
    OrderStatus.DELIVERED: frozenset(),
}

FINAL = frozenset(s for s, targets in ALLOWED.items() if not targets)

# Columns stamped when an order enters a state (first time only).
_STAMPS: dict[OrderStatus, str] = {
    OrderStatus.PAID: "paid_at",
    OrderStatus.DELIVERED: "delivered_at",
}


def sources_of(target: OrderStatus) -> list[str]:
    return sorted(s.value for s, targets in ALLOWED.items() if target in targets)


def can_transition(source: OrderStatus, target: OrderStatus) -> bool:
    return target in ALLOWED[source]


async def transition(
    session: AsyncSession,
    *,
    order_id: int,
    to: OrderStatus,
    event: str,
    actor: str,
    now: datetime,
    params: dict[str, Any] | None = None,
    delivered_quantity: int | None = None,
) -> None:
    """Move the order to ``to`` and append ``event``; raises IllegalTransition."""
    sets = ["status = :to", "updated_at = :now"]
    stamp = _STAMPS.get(to)
    if stamp:
        sets.append(f"{stamp} = COALESCE({stamp}, :now)")
    if delivered_quantity is not None:
        sets.append("delivered_quantity = :delivered_quantity")
    result = await session.execute(
        text(
            f"""
            WITH moved AS (
                UPDATE orders SET {", ".join(sets)}
                WHERE id = :order_id AND status = ANY(:sources)
                RETURNING id
            )
            INSERT INTO order_events (order_id, type, params, actor, created_at)
            SELECT id, :event, CAST(:params AS jsonb), :actor, :now FROM moved
            """
        ),
        {
            "to": to.value,
            "now": now,
            "order_id": order_id,
            "sources": sources_of(to),
            "event": event,
            "params": json.dumps(params or {}, ensure_ascii=False),
            "actor": actor,
            "delivered_quantity": delivered_quantity,
        },
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise IllegalTransition(order_id=order_id, to=to.value)


async def append_event(
    session: AsyncSession,
    *,
    order_id: int,
    event: str,
    actor: str,
    now: datetime,
    params: dict[str, Any] | None = None,
) -> None:
    """A timeline entry that changes no status (e.g. a partial delivery)."""
    await session.execute(
        text(
            "INSERT INTO order_events (order_id, type, params, actor, created_at) "
            "VALUES (:order_id, :event, CAST(:params AS jsonb), :actor, :now)"
        ),
        {
            "order_id": order_id,
            "event": event,
            "params": json.dumps(params or {}, ensure_ascii=False),
            "actor": actor,
            "now": now,
        },
    )
