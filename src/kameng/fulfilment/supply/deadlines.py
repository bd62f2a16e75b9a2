"""Deadlines (SLA), counted from payment, per product.

Card-key orders waiting for stock are handed to ``fulfilment.stock_deadline``.
Each paid order that is not delivered at once carries ``next_deadline_at``
(indexed). The sweep takes the due ones (``FOR UPDATE SKIP LOCKED``, so
several workers share the work):

- at the product's SLA (``sla_seconds``): the order is escalated (a timeline
  entry the buyer reads, an alert to the operators); the next deadline is
  the refund deadline;
- at the refund deadline (``refund_after_seconds``): when nothing is in
  flight at a supplier the order fails and the payment is refunded; when an
  attempt is in flight (sent, or its outcome unknown), refunding could pay
  the buyer twice, so it is escalated for the operator instead (again hourly
  while it stays so). The refund itself then does not wait for the sweep: the
  engine refuses to start a new attempt past the refund deadline and refunds
  as soon as the attempt in flight ends in a failure (``engine._choose``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from kameng.db.connection import Conn
from kameng.fulfilment import stock_deadline
from kameng.fulfilment.alerts import Alert
from kameng.fulfilment.supply import repository as repo
from kameng.fulfilment.supply.engine import fail_order, refund_due_at
from kameng.fulfilment.supply.states import LIVE
from kameng.models.vocabulary import Actor, AttemptStatus, OrderEventType, OrderStatus
from kameng.orders import repository as orders
from kameng.orders.states import append_event

OPEN = frozenset({OrderStatus.FULFILLING, OrderStatus.AWAITING_OPERATOR})
REMIND_EVERY = timedelta(hours=1)
BATCH = 100


async def sweep(conn: Conn, *, now: datetime) -> list[Alert]:
    """Handle every due deadline; returns the alerts to send once committed."""
    alerts: list[Alert] = []
    for order in await orders.lock_due_deadlines(conn, now=now, limit=BATCH):
        if order.status == OrderStatus.AWAITING_STOCK:
            alerts.append(await stock_deadline.on_deadline(conn, order, now=now))
            continue
        if order.status not in OPEN:
            await orders.set_next_deadline(conn, order.id, None)
            continue
        refund_at = await refund_due_at(conn, order)
        in_flight = [
            a
            for a in await repo.attempts_of_order(conn, order.id)
            if a.status in LIVE and a.status != AttemptStatus.CREATED
        ]
        if now >= refund_at and not in_flight:
            await fail_order(conn, order, reason="deadline", now=now)
            alerts.append(
                Alert(
                    f"kameng: order {order.order_no} refunded (deadline)",
                    f"Order {order.order_no} ({order.product_name}) was not fulfilled by "
                    f"{refund_at.isoformat()}; the payment is being refunded.",
                    order.order_no,
                )
            )
            continue
        following = refund_at if now < refund_at else now + REMIND_EVERY
        await append_event(
            conn,
            order_id=order.id,
            event=OrderEventType.ESCALATED,
            actor=Actor.SYSTEM,
            now=now,
            params={"next": following.isoformat(), "unknown": bool(in_flight)},
        )
        await orders.set_next_deadline(conn, order.id, following)
        alerts.append(
            Alert(
                f"kameng: order {order.order_no} is late",
                f"Order {order.order_no} ({order.product_name}, {order.status}) is past its "
                f"deadline. "
                + (
                    "A supplier's answer is still unknown: check with the supplier."
                    if in_flight
                    else f"It will be refunded at {refund_at.isoformat()} unless fulfilled."
                ),
                order.order_no,
            )
        )
    return alerts
