"""The order state machine: the only code that changes ``orders.status``.

Each change is one guarded ``UPDATE … WHERE status = ANY(allowed sources)``
that also appends the timeline event, in one statement, in the caller's
transaction. A row count of 0 means the order was not in a state the change
may leave from, and nothing is written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from kameng.db.connection import Conn, execute, fetch_one
from kameng.models.vocabulary import Actor, OrderEventType, OrderStatus
from kameng.orders.errors import IllegalTransition

__all__ = [
    "ALLOWED",
    "FINAL",
    "Actor",
    "OrderEventType",
    "OrderStatus",
    "append_event",
    "can_transition",
    "paid_and_fulfilled_sql",
    "sources_of",
    "transition",
]


ALLOWED: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.UNPAID: frozenset({OrderStatus.PAID, OrderStatus.EXPIRED}),
    # A payment that arrives after expiry is honoured, never dropped.
    OrderStatus.EXPIRED: frozenset({OrderStatus.PAID}),
    OrderStatus.PAID: frozenset(
        {
            OrderStatus.DELIVERED,
            OrderStatus.AWAITING_STOCK,
            OrderStatus.FULFILLING,
            OrderStatus.AWAITING_OPERATOR,
            OrderStatus.UNDER_REVIEW,
        }
    ),
    # Held by a risk rule: approved (back to paid, then fulfilled) or rejected and refunded.
    OrderStatus.UNDER_REVIEW: frozenset({OrderStatus.PAID, OrderStatus.FAILED}),
    # Out of stock until the refund deadline: refunded (fulfilment.stock_deadline).
    OrderStatus.AWAITING_STOCK: frozenset({OrderStatus.DELIVERED, OrderStatus.FAILED}),
    # With a supplier (top-up, upstream card): delivered, or failed finally and refunded.
    OrderStatus.FULFILLING: frozenset({OrderStatus.DELIVERED, OrderStatus.FAILED}),
    OrderStatus.AWAITING_OPERATOR: frozenset({OrderStatus.DELIVERED, OrderStatus.FAILED}),
    OrderStatus.DELIVERED: frozenset(),
    OrderStatus.FAILED: frozenset(),
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


def _transition_sql(target: OrderStatus, with_quantity: bool) -> str:
    sets = ["status = %(to)s", "updated_at = %(now)s"]
    stamp = _STAMPS.get(target)
    if stamp:
        sets.append(f"{stamp} = COALESCE({stamp}, %(now)s)")
    if with_quantity:
        sets.append("delivered_quantity = %(delivered_quantity)s")
    return f"""
        WITH moved AS (
            UPDATE orders SET {", ".join(sets)}
            WHERE id = %(order_id)s AND status = ANY(%(sources)s)
            RETURNING id
        )
        INSERT INTO order_events (order_id, type, params, actor, created_at)
        SELECT id, %(event)s, %(params)s, %(actor)s, %(now)s FROM moved
        RETURNING order_id
    """


# Built once: the same text each time lets psycopg prepare the statements.
_SQL = {(t, q): _transition_sql(t, q) for t in OrderStatus for q in (False, True)}
_SOURCES = {t: sources_of(t) for t in OrderStatus}


def paid_and_fulfilled_sql(*, gate: str, delivered: str) -> str:
    """Two transitions in one statement, for the paid notify's single round trip:
    ``unpaid|expired → paid`` (event ``paid``, params ``%(paid_params)s``, actor
    gateway), then ``paid → delivered`` when ``delivered`` (an SQL expression,
    the units delivered now) reaches ``%(quantity)s``, else ``paid →
    awaiting_stock`` (then with the product's SLA as its next deadline), with the
    event ``transition()`` would append. Guarded like
    ``transition()`` (status among the sources) and by ``gate`` (SQL that must be
    true, e.g. "the payment was recorded"); CTEs ``moved`` and ``events`` for a
    statement's WITH list. Nothing else in the same statement may update the row.
    """
    assert can_transition(OrderStatus.UNPAID, OrderStatus.PAID)
    assert can_transition(OrderStatus.EXPIRED, OrderStatus.PAID)
    assert can_transition(OrderStatus.PAID, OrderStatus.DELIVERED)
    assert can_transition(OrderStatus.PAID, OrderStatus.AWAITING_STOCK)
    complete = f"({delivered}) = %(quantity)s"
    return f"""
    moved AS (
        UPDATE orders SET
            status = CASE WHEN {complete} THEN '{OrderStatus.DELIVERED}'
                ELSE '{OrderStatus.AWAITING_STOCK}' END,
            paid_at = COALESCE(paid_at, %(now)s),
            delivered_at = CASE WHEN {complete} THEN COALESCE(delivered_at, %(now)s)
                ELSE delivered_at END,
            delivered_quantity = ({delivered}),
            -- Waiting for stock has a deadline (the product's SLA from payment).
            next_deadline_at = CASE WHEN {complete} THEN next_deadline_at
                ELSE COALESCE(paid_at, %(now)s) + make_interval(secs => (
                    SELECT p.sla_seconds FROM products AS p WHERE p.id = orders.product_id))
                END,
            updated_at = %(now)s
        WHERE id = %(order_id)s AND status = ANY(%(paid_sources)s) AND {gate}
        RETURNING id, status, delivered_quantity
    ),
    events AS (
        INSERT INTO order_events (order_id, type, params, actor, created_at)
        SELECT m.id, e.type, e.params, e.actor, %(now)s
        FROM moved AS m CROSS JOIN LATERAL (VALUES
            (1, '{OrderEventType.PAID}', %(paid_params)s::jsonb, '{Actor.GATEWAY}'),
            (2, CASE WHEN m.status = '{OrderStatus.DELIVERED}' THEN '{OrderEventType.DELIVERED}'
                ELSE '{OrderEventType.AWAITING_STOCK}' END,
             jsonb_build_object('delivered', m.delivered_quantity, 'quantity', %(quantity)s),
             '{Actor.SYSTEM}')
        ) AS e(n, type, params, actor)
        ORDER BY e.n
        RETURNING order_id
    )"""


# Where a payment may arrive (an approved review also enters ``paid``, but pays nothing).
PAID_SOURCES = sorted({OrderStatus.UNPAID.value, OrderStatus.EXPIRED.value})


async def transition(
    conn: Conn,
    *,
    order_id: int,
    to: OrderStatus,
    event: OrderEventType,
    actor: Actor,
    now: datetime,
    params: dict[str, Any] | None = None,
    delivered_quantity: int | None = None,
) -> None:
    """Move the order to ``to`` and append ``event``; raises IllegalTransition."""
    moved = await fetch_one(
        conn,
        _SQL[to, delivered_quantity is not None],
        {
            "to": to.value,
            "now": now,
            "order_id": order_id,
            "sources": _SOURCES[to],
            "event": event.value,
            "params": Jsonb(params or {}),
            "actor": actor.value,
            "delivered_quantity": delivered_quantity,
        },
    )
    if moved is None:
        raise IllegalTransition(order_id=order_id, to=to.value)


async def append_event(
    conn: Conn,
    *,
    order_id: int,
    event: OrderEventType,
    actor: Actor,
    now: datetime,
    params: dict[str, Any] | None = None,
) -> None:
    """A timeline entry that changes no status (e.g. a partial delivery)."""
    await execute(
        conn,
        "INSERT INTO order_events (order_id, type, params, actor, created_at) "
        "VALUES (%(order_id)s, %(event)s, %(params)s, %(actor)s, %(now)s)",
        {
            "order_id": order_id,
            "event": event.value,
            "params": Jsonb(params or {}),
            "actor": actor.value,
            "now": now,
        },
    )
