"""The refund a failed supply ends in, through the refunds domain (``request_refund``:
recorded and its job deferred in this transaction; the gateway is called later)."""

from __future__ import annotations

from datetime import datetime

import structlog

from kameng.db.connection import Conn
from kameng.kit.errors import DomainError
from kameng.models.vocabulary import Actor
from kameng.orders.repository import OrderRow
from kameng.refunds.service import request_refund

log = structlog.get_logger()


async def refund_failed_order(conn: Conn, order: OrderRow, *, reason: str, now: datetime) -> str:
    """Ask for the whole payment back; returns the refund number, or "due" when the
    refunds domain refused (then the operator is told by the alert and the log)."""
    try:
        refund = await request_refund(
            conn,
            order_id=order.id,
            amount_cents=None,
            reason=f"supply: {reason}",
            # Once per order: a second failure path asks for the same refund.
            idempotency_key=f"supply-failed:{order.order_no}",
            actor=Actor.SYSTEM,
            now=now,
        )
    except DomainError as exc:
        log.warning("supply refund not requested", order_no=order.order_no, error=exc.code)
        return "due"
    return refund.refund_no
