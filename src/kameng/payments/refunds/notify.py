"""A gateway's refund notify (WeChat Pay v3 ``REFUND.*``) settles a submitted
refund the way the refund job's query would: under the refund's row lock, once.

The notify is trusted only for the refund attempt it names: our number (with
its attempt suffix), the order and trade it belongs to, the gateway it was
submitted through, and the exact amount.
"""

from __future__ import annotations

from datetime import datetime

import structlog

from kameng.db.connection import Conn
from kameng.models.vocabulary import NotifyVerdict, RefundState
from kameng.payments.gateways.base import (
    NotifyRejected,
    RefundAnswer,
    RefundOutcome,
    VerifiedRefundNotify,
)
from kameng.payments.refunds import repository as job_sql
from kameng.payments.refunds.tasks import apply_answer, attempt_number
from kameng.refunds import repository

log = structlog.get_logger()

# What each outcome leaves a refund in, once applied.
_SETTLED_AS = {
    RefundOutcome.SUCCEEDED: RefundState.SUCCEEDED,
    RefundOutcome.REFUSED: RefundState.FAILED,
}


async def settle_refund_notify(
    conn: Conn, gateway: str, verified: VerifiedRefundNotify, now: datetime
) -> tuple[int, NotifyVerdict, str]:
    """Apply the notify to its refund; returns (order id, verdict, detail).
    Raises NotifyRejected (nothing changed) for a refund that is not ours as named."""
    refund_no = verified.out_refund_no.split("-", 1)[0]  # "…R01-2": attempt 2 of …R01
    refund = await repository.lock_by_number(conn, refund_no)
    if refund is None:
        raise NotifyRejected(
            NotifyVerdict.UNKNOWN_ORDER,
            f"no refund {verified.out_refund_no[:64]}",
            out_trade_no=verified.out_trade_no,
            trade_no=verified.trade_no,
        )

    def reject(verdict: NotifyVerdict, detail: str) -> NotifyRejected:
        return NotifyRejected(
            verdict,
            detail,
            out_trade_no=verified.out_trade_no,
            trade_no=verified.trade_no,
            order_id=refund.order_id,
        )

    payment = await repository.payment(conn, refund.payment_id)
    assert payment is not None  # refunds.payment_id is a foreign key
    if payment.gateway != gateway:
        raise reject(
            NotifyVerdict.GATEWAY_MISMATCH,
            f"refund {refund.refund_no} goes through {payment.gateway}, notify came via {gateway}",
        )
    order_no = await job_sql.order_no_of(conn, refund.order_id)
    if (verified.out_trade_no, verified.trade_no) != (order_no, payment.trade_no):
        raise reject(
            NotifyVerdict.UNKNOWN_ORDER,
            f"refund {refund.refund_no} is of trade {payment.trade_no}, not {verified.trade_no}",
        )
    if verified.amount_cents != refund.amount_cents:
        raise reject(
            NotifyVerdict.AMOUNT_MISMATCH,
            f"refunded {verified.amount_cents} fen, refund {refund.refund_no} is "
            f"{refund.amount_cents}",
        )
    current = attempt_number(refund.refund_no, refund.attempts)
    if verified.out_refund_no != current:
        # An earlier attempt: it was settled (failed) before the retry was sent.
        if verified.outcome == RefundOutcome.SUCCEEDED:
            log.error(
                "refund notify: an earlier attempt succeeded",
                refund_no=verified.out_refund_no,
                current=current,
            )
        return refund.order_id, NotifyVerdict.DUPLICATE, f"earlier attempt {current} is current"
    if refund.state == RefundState.SUBMITTED:
        answer = RefundAnswer(
            verified.outcome,
            verified.gateway_refund_no,
            "refund notify" if verified.outcome == RefundOutcome.SUCCEEDED else "refund abnormal",
        )
        await apply_answer(conn, refund, answer)
        return refund.order_id, NotifyVerdict.ACCEPTED, f"refund {verified.outcome.value}"
    if refund.state != _SETTLED_AS[verified.outcome]:
        log.error(
            "refund notify contradicts the refund's state",
            refund_no=refund.refund_no,
            state=refund.state,
            outcome=verified.outcome,
        )
    return refund.order_id, NotifyVerdict.DUPLICATE, f"refund already {refund.state.value}"
