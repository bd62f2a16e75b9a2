"""Asking for a refund: decided under the order's row lock, executed by a job.

``request_refund`` is the one entry point (CLI, automatic refunds, the SLA
work of fulfilment, the console). It never calls the network: it records the
refund in state ``requested``, appends the buyer's timeline event and defers
the execution job, all in the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime

from kameng.db.connection import Conn
from kameng.db.jobs import JobName, defer
from kameng.kit.money import format_yuan
from kameng.models.vocabulary import Actor, RefundState
from kameng.orders.states import append_event
from kameng.refunds import repository
from kameng.refunds.errors import (
    IdempotencyKeyReused,
    NothingPaid,
    RefundAmountInvalid,
    RefundExceedsPaid,
    RefundOrderNotFound,
)
from kameng.refunds.repository import RefundRow
from kameng.refunds.states import EVENTS

__all__ = ["RefundRow", "request_refund"]


async def request_refund(
    conn: Conn,
    *,
    order_id: int,
    amount_cents: int | None,
    reason: str,
    idempotency_key: str,
    actor: Actor,
    now: datetime,
    trade_no: str | None = None,
) -> RefundRow:
    """Refund ``amount_cents`` (None: all that is still refundable) of the order's
    payment, or of its payment ``trade_no`` (a second payment). The same
    ``idempotency_key`` returns the refund it created before; raises
    RefundExceedsPaid, NothingPaid, RefundAmountInvalid, RefundOrderNotFound,
    IdempotencyKeyReused (the key belongs to another order)."""
    order_no = await repository.lock_order_number(conn, order_id)
    if order_no is None:
        raise RefundOrderNotFound(order_id=order_id)
    # Read under the order's lock: a concurrent request with the same key has
    # committed (and is seen) or has not started deciding.
    existing = await repository.by_idempotency_key(conn, idempotency_key)
    if existing is not None:
        if existing.order_id != order_id:
            raise IdempotencyKeyReused(key=idempotency_key)
        return existing
    if trade_no is None:
        payment = await repository.paying_payment(conn, order_id)
    else:
        payment = await repository.payment_by_trade(conn, order_id, trade_no)
    if payment is None:
        raise NothingPaid(order_no=order_no)
    amount = payment.refundable_cents if amount_cents is None else amount_cents
    if amount_cents is not None and amount_cents <= 0:
        raise RefundAmountInvalid()
    if amount <= 0 or amount > payment.refundable_cents:
        raise RefundExceedsPaid(
            amount=format_yuan(amount),
            order_no=order_no,
            refundable=format_yuan(payment.refundable_cents),
        )
    sequence = await repository.count_of_order(conn, order_id) + 1
    refund = await repository.insert(
        conn,
        order_id=order_id,
        payment_id=payment.id,
        refund_no=f"{order_no}R{sequence:02d}",
        idempotency_key=idempotency_key,
        amount_cents=amount,
        reason=reason,
        actor=actor,
        now=now,
    )
    await _append_requested(conn, refund, payment.trade_no, now)
    await defer(
        conn, JobName.EXECUTE_REFUND, queueing_lock=f"refund:{refund.id}", refund_id=refund.id
    )
    return refund


async def _append_requested(conn: Conn, refund: RefundRow, trade_no: str, now: datetime) -> None:
    await append_event(
        conn,
        order_id=refund.order_id,
        event=EVENTS[RefundState.REQUESTED],
        actor=refund.actor,
        now=now,
        params={
            "refund_no": refund.refund_no,
            "amount_cents": refund.amount_cents,
            "trade_no": trade_no,
        },
    )
