"""Card-key orders paid but short of keys (``awaiting_stock``) have deadlines too.

Entering ``awaiting_stock`` sets the product's SLA, counted from payment, as
the order's next deadline (``orders.states.paid_and_fulfilled_sql`` on the
paid notify, ``strategies.card_key`` on any other path). The deadline sweep
(``fulfilment.supply.deadlines``) then calls ``on_deadline``:

- at the SLA: a timeline entry the buyer reads (late, the staff alerted, and
  when the refund comes), an alert, and the refund deadline as the next one;
- at the refund deadline: the order fails and what was not delivered is
  refunded (all of it when no key was delivered).

A restock serves only orders still ``awaiting_stock`` (``lock_oldest_awaiting_stock``),
so keys imported after the refund are never delivered to the refunded order.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog

from kameng.catalog import repository as catalog
from kameng.db.connection import Conn
from kameng.fulfilment.alerts import Alert
from kameng.kit.errors import DomainError
from kameng.models.vocabulary import Actor, OrderEventType, OrderStatus
from kameng.orders import repository as orders
from kameng.orders.repository import OrderRow
from kameng.orders.states import append_event, transition
from kameng.refunds.service import request_refund

log = structlog.get_logger()

REASON = "out_of_stock"  # orders.texts.SUPPLY_REASONS


async def sla_deadline(conn: Conn, order: OrderRow, *, now: datetime) -> datetime:
    product = await catalog.by_id(conn, order.product_id)
    return (order.paid_at or now) + timedelta(seconds=product.sla_seconds if product else 600)


async def on_deadline(conn: Conn, order: OrderRow, *, now: datetime) -> Alert:
    """The caller holds the order's row lock (the deadline sweep); the order is
    ``awaiting_stock``."""
    product = await catalog.by_id(conn, order.product_id)
    refund_at = (order.paid_at or order.created_at) + timedelta(
        seconds=product.refund_after_seconds if product else 3600
    )
    missing = order.quantity - order.delivered_quantity
    if now < refund_at:
        await append_event(
            conn,
            order_id=order.id,
            event=OrderEventType.ESCALATED,
            actor=Actor.SYSTEM,
            now=now,
            params={"next": refund_at.isoformat(), "stock": True},
        )
        await orders.set_next_deadline(conn, order.id, refund_at)
        return Alert(
            f"kameng: order {order.order_no} is waiting for stock",
            f"Order {order.order_no} ({order.product_name}) is paid and still short of "
            f"{missing} key(s). Import keys, or it is refunded at {refund_at.isoformat()}.",
            order.order_no,
        )
    await transition(
        conn,
        order_id=order.id,
        to=OrderStatus.FAILED,
        event=OrderEventType.FULFILMENT_FAILED,
        actor=Actor.SYSTEM,
        now=now,
        params={
            "reason": REASON,
            "delivered": order.delivered_quantity,
            "quantity": order.quantity,
        },
    )
    await orders.set_next_deadline(conn, order.id, None)
    # Keys already delivered stay the buyer's: only the missing ones are refunded.
    amount = None if order.delivered_quantity == 0 else order.unit_price_cents * missing
    try:
        await request_refund(
            conn,
            order_id=order.id,
            amount_cents=amount,
            reason=f"stock: {REASON}",
            idempotency_key=f"stock-deadline:{order.order_no}",
            actor=Actor.SYSTEM,
            now=now,
        )
    except DomainError as exc:
        log.warning("stock refund not requested", order_no=order.order_no, error=exc.code)
    return Alert(
        f"kameng: order {order.order_no} refunded (out of stock)",
        f"Order {order.order_no} ({order.product_name}) got no stock by "
        f"{refund_at.isoformat()}; {missing} of {order.quantity} key(s) are being refunded.",
        order.order_no,
    )
