"""Holding paid orders for review, and the operator's decision.

The payment's transaction asks ``hold_reason`` before it fulfils (no network,
the order row locked): a match holds the order (``paid → under_review``, the
timeline says why and by when it is decided) with the review SLA as its
deadline. ``approve`` moves it back to ``paid`` and fulfils it as the payment
would have; ``reject`` fails it and refunds the whole payment through the
refunds service. Past the review SLA the operators are alerted (and the buyer
reads that the check takes longer), again every hour while it waits.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from kameng.db.connection import Conn
from kameng.fulfilment.alerts import Alert
from kameng.fulfilment.review import repository as repo
from kameng.fulfilment.service import fulfil
from kameng.kit.errors import DomainError
from kameng.kit.i18n import N_
from kameng.models.vocabulary import Actor, OrderEventType, OrderStatus
from kameng.orders import repository as orders
from kameng.orders.errors import OrderNotFound
from kameng.orders.repository import OrderRow
from kameng.orders.states import append_event, transition
from kameng.refunds.service import request_refund

AMOUNT = "amount"  # reasons (orders.texts.REVIEW_REASONS)
VELOCITY = "velocity"
REMIND_EVERY = timedelta(hours=1)


class NotUnderReview(DomainError):
    status = 409
    code = "not_under_review"
    message = N_("Order %(order_no)s is not held for review (it is %(status)s)")


async def hold_reason(conn: Conn, order: OrderRow, *, now: datetime) -> str | None:
    """The rule this paid order matches, or None (no rules, or none matches)."""
    rules = await repo.rules(conn)
    if rules is None:
        return None
    if rules.above_cents is not None and order.amount_cents > rules.above_cents:
        return AMOUNT
    if rules.contact_max is not None and order.contact:
        since = now - repo.window(rules.window_seconds)
        paid = await repo.paid_by_contact(conn, order.contact, since=since, other_than=order.id)
        if paid >= rules.contact_max:
            return VELOCITY
    return None


async def hold(conn: Conn, order: OrderRow, *, reason: str, now: datetime) -> None:
    """``paid → under_review`` (the caller holds the row lock, in the payment's
    transaction); decided by the review SLA, else the operators are alerted."""
    rules = await repo.rules(conn)
    by = now + repo.window(rules.review_sla_seconds if rules else 1800)
    await transition(
        conn,
        order_id=order.id,
        to=OrderStatus.UNDER_REVIEW,
        event=OrderEventType.RISK_HELD,
        actor=Actor.SYSTEM,
        now=now,
        params={"reason": reason, "until": by.isoformat()},
    )
    await orders.set_next_deadline(conn, order.id, by)


async def _held(conn: Conn, order_no: str) -> OrderRow:
    order = await orders.lock_by_number(conn, order_no)
    if order is None:
        raise OrderNotFound(order_no=order_no)
    if order.status != OrderStatus.UNDER_REVIEW:
        raise NotUnderReview(order_no=order_no, status=order.status)
    return order


async def approve(conn: Conn, order_no: str, *, now: datetime) -> OrderRow:
    """Let a held order through: fulfilled now exactly as its payment would have."""
    order = await _held(conn, order_no)
    await transition(
        conn,
        order_id=order.id,
        to=OrderStatus.PAID,
        event=OrderEventType.REVIEW_APPROVED,
        actor=Actor.OPERATOR,
        now=now,
    )
    await orders.set_next_deadline(conn, order.id, None)
    await fulfil(conn, replace(order, status=OrderStatus.PAID), now=now)
    return order


async def reject(conn: Conn, order_no: str, *, reason: str, now: datetime) -> str:
    """Refuse a held order: failed, the whole payment refunded; returns the refund number."""
    order = await _held(conn, order_no)
    await transition(
        conn,
        order_id=order.id,
        to=OrderStatus.FAILED,
        event=OrderEventType.REVIEW_REJECTED,
        actor=Actor.OPERATOR,
        now=now,
        params={"note": reason[:200]},
    )
    await orders.set_next_deadline(conn, order.id, None)
    refund = await request_refund(
        conn,
        order_id=order.id,
        amount_cents=None,
        reason=f"review rejected: {reason[:200]}",
        idempotency_key=f"review-rejected:{order.order_no}",
        actor=Actor.OPERATOR,
        now=now,
    )
    return refund.refund_no


async def sweep(conn: Conn, *, now: datetime, limit: int = 100) -> list[Alert]:
    """Held orders past their review SLA: the buyer reads it takes longer (once),
    the operators are alerted (hourly while it waits)."""
    alerts = []
    for order in await orders.lock_due_deadlines(conn, now=now, limit=limit, under_review=True):
        last = (await orders.events_of(conn, order.id))[-1]
        if last.type != OrderEventType.ESCALATED:
            await append_event(
                conn,
                order_id=order.id,
                event=OrderEventType.ESCALATED,
                actor=Actor.SYSTEM,
                now=now,
                params={"review": True},
            )
        await orders.set_next_deadline(conn, order.id, now + REMIND_EVERY)
        alerts.append(
            Alert(
                f"kameng: order {order.order_no} waits for review",
                f"Order {order.order_no} ({order.product_name}) is held for review past its "
                "deadline: `kameng review approve` or `kameng review reject` it.",
                order.order_no,
            )
        )
    return alerts
