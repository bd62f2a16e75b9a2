"""Payment notifies: verify, then in one transaction record, mark paid, deliver.

Order of checks: signature and merchant first, then order, gateway binding
and exact amount, and only then any write (a forged notify changes nothing). Every
notify is stored raw with its verdict, whatever the verdict.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from kameng.db.connection import Conn
from kameng.fulfilment.review import service as review
from kameng.fulfilment.service import delivers_with_payment, fulfil
from kameng.kit.money import format_yuan
from kameng.models.vocabulary import NotifyVerdict
from kameng.orders import repository as orders
from kameng.orders.errors import IllegalTransition
from kameng.orders.states import Actor, OrderEventType, OrderStatus, append_event, transition
from kameng.payments import repository
from kameng.payments.gateways.base import (
    Gateway,
    InboundNotify,
    NotifyRejected,
    RefundNotifyGateway,
    VerifiedNotify,
    VerifiedRefundNotify,
)
from kameng.payments.refunds.notify import settle_refund_notify
from kameng.payments.refunds.service import request_refund

# Longer than the ±5 min a signed timestamp is accepted for, on both sides.
NONCE_KEPT_FOR = timedelta(minutes=15)

# The notify as received; the name the spine used for it.
RawNotify = InboundNotify


@dataclass(frozen=True, slots=True)
class NotifyOutcome:
    verdict: NotifyVerdict
    detail: str
    order_no: str | None

    @property
    def acknowledged(self) -> bool:
        return self.verdict.acknowledged


# Refused notifies stored per source address and minute; real gateways retry a
# refused notify a few times an hour, a flood of garbage far more often.
REFUSED_STORED_PER_MINUTE = 30


async def handle_notify(
    conn: Conn,
    *,
    gateway_name: str,
    gateway: Gateway | None,
    raw: InboundNotify,
    now: datetime,
    disabled: bool = False,
) -> NotifyOutcome:
    """Judge and apply one notify; leaves a payment_notifies row behind, except
    for refused notifies past REFUSED_STORED_PER_MINUTE from one address (a
    flood of garbage is counted and logged, never stored)."""
    seen = _Seen(raw.params.get("out_trade_no"), raw.params.get("trade_no"))

    async def judge() -> tuple[int, NotifyVerdict, str]:
        if gateway is None:
            raise NotifyRejected(
                NotifyVerdict.UNKNOWN_GATEWAY,
                f"channel {gateway_name!r} is disabled"
                if disabled
                else f"no gateway named {gateway_name!r}",
            )
        verified = _parse(gateway, raw)
        seen.out_trade_no, seen.trade_no = verified.out_trade_no, verified.trade_no
        await _refuse_replay(conn, gateway.name, verified, now)
        return await _settle(conn, gateway.name, verified, now, "notify")

    return await _judge_and_log(conn, gateway_name, raw, now, judge, seen)


@dataclass(slots=True)
class _Seen:
    """The trade identifiers a notify is logged under: what it claims, then
    what its verified reading says."""

    out_trade_no: str | None
    trade_no: str | None


async def _judge_and_log(
    conn: Conn,
    gateway_name: str,
    raw: InboundNotify,
    now: datetime,
    judge: Callable[[], Awaitable[tuple[int, NotifyVerdict, str]]],
    seen: _Seen,
) -> NotifyOutcome:
    """Run ``judge`` (raising NotifyRejected for a refusal) and keep its verdict
    in payment_notifies, except for refused notifies past
    REFUSED_STORED_PER_MINUTE from one address."""
    order_id: int | None = None
    try:
        order_id, verdict, detail = await judge()
    except NotifyRejected as rejected:
        verdict, detail = rejected.verdict, rejected.detail
        seen.out_trade_no = rejected.out_trade_no or seen.out_trade_no
        seen.trade_no = rejected.trade_no or seen.trade_no
        order_id = rejected.order_id
    if not verdict.acknowledged and raw.remote_addr:
        hits = await repository.count_refused_notify(conn, remote_addr=raw.remote_addr, now=now)
        if hits > REFUSED_STORED_PER_MINUTE:
            return NotifyOutcome(
                verdict=verdict, detail=f"{detail} (not stored: flood)", order_no=seen.out_trade_no
            )
    await _log(
        conn,
        gateway_name,
        raw,
        now,
        out_trade_no=seen.out_trade_no,
        trade_no=seen.trade_no,
        verdict=verdict,
        detail=detail,
        order_id=order_id,
    )
    return NotifyOutcome(verdict=verdict, detail=detail, order_no=seen.out_trade_no)


async def _log(
    conn: Conn,
    gateway_name: str,
    raw: InboundNotify,
    now: datetime,
    *,
    out_trade_no: str | None,
    trade_no: str | None,
    verdict: NotifyVerdict,
    detail: str,
    order_id: int | None,
) -> None:
    """One payment_notifies row: the request as it arrived, and what we made of it."""
    await repository.record_notify(
        conn,
        gateway=gateway_name,
        now=now,
        http_method=raw.method,
        raw_query=raw.raw_query,
        raw_body=raw.text,
        raw_headers=headers_json(raw),
        remote_addr=raw.remote_addr,
        out_trade_no=out_trade_no,
        trade_no=trade_no,
        verdict=verdict,
        detail=detail,
        order_id=order_id,
    )


_UNSTORED_HEADERS = frozenset({"cookie", "authorization", "proxy-authorization"})


def headers_json(raw: InboundNotify) -> str:
    """The notify's headers for the log, minus any credential a client could carry."""
    kept = {k: v for k, v in sorted(raw.headers.items()) if k not in _UNSTORED_HEADERS}
    return json.dumps(kept, ensure_ascii=False)


async def _refuse_replay(conn: Conn, gateway: str, verified: VerifiedNotify, now: datetime) -> None:
    await _claim_nonce(
        conn, gateway, verified.replay_nonce, verified.out_trade_no, verified.trade_no, now
    )


async def _claim_nonce(
    conn: Conn,
    gateway: str,
    nonce: str | None,
    out_trade_no: str,
    trade_no: str,
    now: datetime,
) -> None:
    """A signed notify carrying a nonce is good once: a replay of a captured
    request is refused even within its timestamp window, by every process."""
    if nonce is None:
        return
    fresh = await repository.claim_nonce(
        conn, gateway=gateway, nonce=nonce, now=now, expires_at=now + NONCE_KEPT_FOR
    )
    if not fresh:
        raise NotifyRejected(
            NotifyVerdict.REPLAYED_NONCE,
            f"nonce {nonce} was seen before",
            out_trade_no=out_trade_no,
            trade_no=trade_no,
        )


def _parse(gateway: Gateway, raw: InboundNotify) -> VerifiedNotify:
    try:
        return gateway.parse_notify(raw)
    except NotifyRejected:
        raise
    except Exception as exc:  # bad input must never become a 5xx or an endless retry
        raise NotifyRejected(NotifyVerdict.MALFORMED, f"unreadable: {type(exc).__name__}") from exc


async def record_failed_notify(
    conn: Conn, *, gateway_name: str, raw: InboundNotify, error: str, now: datetime
) -> None:
    """Keep a notify whose handling failed (its transaction rolled back) on record,
    verdict ``error``; the gateway is told to retry."""
    await _log(
        conn,
        gateway_name,
        raw,
        now,
        out_trade_no=raw.params.get("out_trade_no"),
        trade_no=raw.params.get("trade_no"),
        verdict=NotifyVerdict.ERROR,
        detail=error,
        order_id=None,
    )


async def settle_queried(
    conn: Conn, *, gateway: Gateway, verified: VerifiedNotify, now: datetime
) -> NotifyOutcome:
    """Apply a payment the gateway confirmed when asked (主动查单), exactly as a
    notify would be applied, and log it among the notifies (method QUERY)."""
    order_id: int | None = None
    try:
        order_id, verdict, detail = await _settle(conn, gateway.name, verified, now, "query")
    except NotifyRejected as rejected:
        verdict, detail, order_id = rejected.verdict, rejected.detail, rejected.order_id
    await repository.record_notify(
        conn,
        gateway=gateway.name,
        now=now,
        http_method="QUERY",
        raw_query=f"act=order&out_trade_no={verified.out_trade_no}",
        raw_body=f"status=1 trade_no={verified.trade_no} "
        f"money={format_yuan(verified.amount_cents)}",
        remote_addr=None,
        out_trade_no=verified.out_trade_no,
        trade_no=verified.trade_no,
        verdict=verdict,
        detail=detail,
        order_id=order_id,
    )
    return NotifyOutcome(verdict=verdict, detail=detail, order_no=verified.out_trade_no)


async def _settle(
    conn: Conn, gateway: str, verified: VerifiedNotify, now: datetime, source: str
) -> tuple[int, NotifyVerdict, str]:
    """The checks every confirmed payment passes, then the payment itself.

    Returns (order id, verdict, detail); raises NotifyRejected.
    """
    order = await orders.lock_by_number(conn, verified.out_trade_no)
    if order is None:
        raise NotifyRejected(NotifyVerdict.UNKNOWN_ORDER, f"no order {verified.out_trade_no}")
    if order.gateway != gateway:
        # A payment is bound to the gateway the order was placed with.
        raise NotifyRejected(
            NotifyVerdict.GATEWAY_MISMATCH,
            f"order uses {order.gateway}, payment came via {gateway}",
            order_id=order.id,
        )
    if verified.amount_cents != order.amount_cents:
        raise NotifyRejected(
            NotifyVerdict.AMOUNT_MISMATCH,
            f"paid {format_yuan(verified.amount_cents)}, "
            f"order is {format_yuan(order.amount_cents)}",
            order_id=order.id,
        )
    verdict, detail = await _apply_payment(
        conn,
        order,
        gateway,
        verified.trade_no,
        verified.amount_cents,
        verified.method,
        now,
        source,
    )
    return order.id, verdict, detail


async def _apply_payment(
    conn: Conn,
    order: orders.OrderRow,
    gateway: str,
    trade_no: str,
    amount_cents: int,
    method: str,
    now: datetime,
    source: str,
) -> tuple[NotifyVerdict, str]:
    # The order row is locked: concurrent duplicates queue here and see the payment.
    late = order.status == OrderStatus.EXPIRED
    paid_params = {
        "gateway": gateway,
        "trade_no": trade_no,
        "amount_cents": amount_cents,
        "late": late,
        "source": source,  # "notify", or "query" when found by asking the gateway
    }
    verdict = NotifyVerdict.ACCEPTED_LATE if late else NotifyVerdict.ACCEPTED
    # A risk rule may hold the paid order for review instead of fulfilling it.
    held = await review.hold_reason(conn, order, now=now)
    if held is None and delivers_with_payment(order):
        # The common case in one round trip; same rows as the general path below.
        done = await repository.pay_and_deliver_keys(
            conn,
            order_id=order.id,
            product_id=order.product_id,
            quantity=order.quantity,
            gateway=gateway,
            trade_no=trade_no,
            amount_cents=amount_cents,
            method=method,
            paid_params=paid_params,
            now=now,
        )
        if done.recorded and not done.moved:
            raise IllegalTransition(order_id=order.id, to=OrderStatus.PAID.value)
        if done.recorded:
            return verdict, "paid"
        inserted = False
    else:
        inserted = await repository.insert_payment(
            conn,
            order_id=order.id,
            gateway=gateway,
            trade_no=trade_no,
            amount_cents=amount_cents,
            method=method,
            now=now,
        )
    if not inserted:
        existing = await repository.payment_of_order(conn, order.id)
        if existing is None:
            raise NotifyRejected(
                NotifyVerdict.TRADE_NO_REUSED,
                f"trade {trade_no} already paid another order",
                order_id=order.id,
            )
        if existing.gateway == gateway and existing.trade_no == trade_no:
            return NotifyVerdict.DUPLICATE, "already recorded"
        return await _second_payment(
            conn, order, existing.trade_no, gateway, trade_no, amount_cents, method, now
        )
    await transition(
        conn,
        order_id=order.id,
        to=OrderStatus.PAID,
        event=OrderEventType.PAID,
        actor=Actor.GATEWAY,
        now=now,
        params=paid_params,
    )
    if held is not None:
        await review.hold(conn, _as_paid(order), reason=held, now=now)
        return verdict, "paid, held for review"
    await fulfil(conn, _as_paid(order), now=now)
    return verdict, "paid"


def _as_paid(order: orders.OrderRow) -> orders.OrderRow:
    return replace(order, status=OrderStatus.PAID)


async def _second_payment(
    conn: Conn,
    order: orders.OrderRow,
    paid_by: str,
    gateway: str,
    trade_no: str,
    amount_cents: int,
    method: str,
    now: datetime,
) -> tuple[NotifyVerdict, str]:
    """Real money paid twice for one order: recorded as a surplus payment and
    refunded automatically (the refund job sends it back), never dropped."""
    recorded = await repository.insert_payment(
        conn,
        order_id=order.id,
        gateway=gateway,
        trade_no=trade_no,
        amount_cents=amount_cents,
        method=method,
        now=now,
        surplus=True,
    )
    if not recorded:
        owner = await repository.order_of_trade(conn, gateway, trade_no)
        if owner == order.id:
            return NotifyVerdict.DUPLICATE, "second payment already recorded"
        raise NotifyRejected(
            NotifyVerdict.TRADE_NO_REUSED,
            f"trade {trade_no} already paid another order",
            order_id=order.id,
        )
    await append_event(
        conn,
        order_id=order.id,
        event=OrderEventType.SECOND_PAYMENT,
        actor=Actor.GATEWAY,
        now=now,
        params={"trade_no": trade_no, "amount_cents": amount_cents},
    )
    await request_refund(
        conn,
        order_id=order.id,
        amount_cents=None,
        reason=f"second payment {trade_no}; the order was paid by {paid_by}",
        idempotency_key=f"second-payment:{gateway}:{trade_no}",
        actor=Actor.SYSTEM,
        now=now,
        trade_no=trade_no,
    )
    return NotifyVerdict.SECOND_PAYMENT, f"order already paid by {paid_by}; refund requested"


async def handle_refund_notify(
    conn: Conn,
    *,
    gateway_name: str,
    gateway: Gateway | None,
    raw: InboundNotify,
    now: datetime,
    disabled: bool = False,
) -> NotifyOutcome:
    """Judge and apply one refund notify (``POST /notify/{name}/refund``), with
    the pay notify's checks (signature, freshness, nonce) and its log row."""
    seen = _Seen(None, None)

    async def judge() -> tuple[int, NotifyVerdict, str]:
        if not isinstance(gateway, RefundNotifyGateway):
            raise NotifyRejected(
                NotifyVerdict.UNKNOWN_GATEWAY,
                f"channel {gateway_name!r} is disabled"
                if disabled
                else f"no refund notifies for {gateway_name!r}",
            )
        verified = _parse_refund(gateway, raw)
        seen.out_trade_no, seen.trade_no = verified.out_trade_no, verified.trade_no
        await _claim_nonce(
            conn, gateway.name, verified.replay_nonce, verified.out_trade_no, verified.trade_no, now
        )
        return await settle_refund_notify(conn, gateway.name, verified, now)

    return await _judge_and_log(conn, gateway_name, raw, now, judge, seen)


def _parse_refund(gateway: RefundNotifyGateway, raw: InboundNotify) -> VerifiedRefundNotify:
    try:
        return gateway.parse_refund_notify(raw)
    except NotifyRejected:
        raise
    except Exception as exc:  # bad input must never become a 5xx or an endless retry
        raise NotifyRejected(NotifyVerdict.MALFORMED, f"unreadable: {type(exc).__name__}") from exc
