"""The supply engine: what happens next for an order with a supplier.

``step`` does one thing for one order and says when the next is due:

1. Under the order's row lock it reads the attempts. No live attempt: it picks
   the next supplier (priority order; skipping those that failed this order
   finally, refused it until a time, or whose breaker is open) and inserts an
   attempt in ``created``; none left: the order fails and is refunded; some
   only later (maintenance): the buyer is told until when.
2. An attempt in ``created`` is marked ``sent`` and committed **before** the
   request goes out: a worker killed after that point leaves ``sent`` behind,
   and a ``sent`` or ``unknown`` attempt is only ever asked about (``query``),
   never sent elsewhere. The request itself runs with no lock held.
3. The answer is applied under the row lock again (``apply``), with guarded
   transitions, so a callback that raced it ends in one outcome.

Our order number is the idempotency key at every supplier: asking the same
supplier again (after it said it never got the order) cannot buy twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg_pool import AsyncConnectionPool

from kameng.cardkeys.repository import insert_sold
from kameng.catalog import repository as catalog
from kameng.db.connection import Conn, transaction
from kameng.db.jobs import JobName, defer
from kameng.fulfilment.supply import repository as repo
from kameng.fulfilment.supply.config import SupplyConfig
from kameng.fulfilment.supply.protocol import Outcome, PlaceRequest, SupplierAnswer
from kameng.fulfilment.supply.refund import refund_failed_order
from kameng.fulfilment.supply.repository import AttemptRow, CandidateRow
from kameng.fulfilment.supply.states import LIVE, transition
from kameng.kit import clock
from kameng.models.vocabulary import (
    Actor,
    AttemptStatus,
    OrderEventType,
    OrderStatus,
    ProductKind,
)
from kameng.orders import repository as orders
from kameng.orders import states as order_states
from kameng.orders.repository import OrderRow

SUPPLIED_KINDS = frozenset({ProductKind.TOPUP, ProductKind.UPSTREAM_CARD})


@dataclass(frozen=True, slots=True)
class _Ids:
    attempt_id: int
    now: datetime
    supplier_order_no: str | None

    def kwargs(self) -> dict[str, Any]:
        return {
            "attempt_id": self.attempt_id,
            "now": self.now,
            "supplier_order_no": self.supplier_order_no,
        }


@dataclass(frozen=True, slots=True)
class Wait:
    seconds: float


Next = float | None  # seconds until the next step is due (0: at once); None: nothing more


async def step(pool: AsyncConnectionPool[Conn], cfg: SupplyConfig, order_id: int) -> Next:
    now = clock.now()
    async with transaction(pool) as conn:
        order = await orders.lock_by_id(conn, order_id)
        if order is None or order.status != OrderStatus.FULFILLING:
            return None
        attempts = await repo.attempts_of_order(conn, order_id)
        live = next((a for a in attempts if a.status in LIVE), None)
        if live is None:
            chosen = await _choose(conn, cfg, order, attempts, now)
            if not isinstance(chosen, AttemptRow):
                return None if chosen is None else chosen.seconds
            live = chosen
        supplier = await repo.supplier_by_id(conn, live.supplier_id)
        assert supplier is not None  # attempts reference suppliers
        link = next(
            (c for c in await repo.candidates(conn, order.product_id) if c.id == supplier.id), None
        )
        if live.status == AttemptStatus.CREATED or live.result.get("resend"):
            if link is None:  # unlinked or disabled meanwhile: nothing was sent, try another
                await transition(
                    conn,
                    attempt_id=live.id,
                    to=AttemptStatus.FAILED,
                    now=now,
                    refused=True,
                    error="supplier disabled",
                    retry_after=now + cfg.scaled(86400),
                )
                return 0.0
            # Committed before the request goes out: from here on only asked, never re-sent
            # elsewhere.
            await transition(
                conn,
                attempt_id=live.id,
                to=AttemptStatus.SENT,
                now=now,
                result={"resend": False},
                next_check_at=now + cfg.backoff(0),
            )
            if live.status == AttemptStatus.CREATED:
                await _event(
                    conn, order, OrderEventType.SENT_TO_SUPPLIER, now, supplier=supplier.name
                )
            action = "place"
            request = PlaceRequest(
                request_no=live.request_no,
                supplier_sku=link.supplier_sku,
                kind="card" if order.product_kind == ProductKind.UPSTREAM_CARD else "topup",
                quantity=order.quantity,
                account=await orders.inputs_of(conn, order.id),
                max_price_cents=link.cost_cents,
                notify_url=cfg.notify_url(supplier.code),
            )
        elif live.next_check_at is not None and live.next_check_at > now:
            return (live.next_check_at - now).total_seconds()
        else:
            action = "query"
        endpoint = cfg.endpoint(
            supplier.code, supplier.base_url, supplier.merchant_id, supplier.secret_sealed
        )
    # No lock is held while the supplier is asked.
    if action == "place":
        answer = await cfg.adapter.place(endpoint, request)
    else:
        answer = await cfg.adapter.query(endpoint, live.request_no)
    async with transaction(pool) as conn:
        return await apply(conn, cfg, order_id, live.id, answer, via=action, now=clock.now())


async def _choose(
    conn: Conn, cfg: SupplyConfig, order: OrderRow, attempts: list[AttemptRow], now: datetime
) -> AttemptRow | Wait | None:
    failed_for_good = {
        a.supplier_id for a in attempts if a.status == AttemptStatus.FAILED and not a.refused
    }
    usable: list[CandidateRow] = []
    later: list[tuple[datetime, CandidateRow, str]] = []
    for c in await repo.candidates(conn, order.product_id):
        if c.id in failed_for_good:
            continue
        refusals = [a for a in attempts if a.supplier_id == c.id and a.refused and a.retry_after]
        refused_until = max((a.retry_after for a in refusals if a.retry_after), default=None)
        if refused_until is not None and refused_until > now:
            later.append((refused_until, c, refusals[-1].error or "refused"))
        elif c.breaker_open_until is not None and c.breaker_open_until > now:
            later.append((c.breaker_open_until, c, "breaker"))
        else:
            usable.append(c)
    give_up_at = await refund_due_at(conn, order)
    if now >= give_up_at:
        # Nothing is in flight (the caller found no live attempt) and the refund
        # deadline has come: no new attempt, the buyer gets the money back now
        # rather than at the deadline sweep's next reminder.
        await fail_order(conn, order, reason="deadline", now=now)
        return None
    if usable:
        pick = usable[0]
        attempt_id = await repo.insert_attempt(
            conn, order_id=order.id, supplier_id=pick.id, request_no=order.order_no, now=now
        )
        if attempt_id is None:  # another worker got there first
            return Wait(0.0)
        previous = attempts[-1] if attempts else None
        if previous is not None and previous.supplier_id != pick.id:
            before = await repo.supplier_by_id(conn, previous.supplier_id)
            await _event(
                conn,
                order,
                OrderEventType.SUPPLIER_SWITCHED,
                now,
                supplier=before.name if before else "?",
                to=pick.name,
                reason=_reason_word(previous),
            )
        chosen = await repo.attempt_by_id(conn, attempt_id)
        assert chosen is not None
        return chosen
    if later:
        until, who, why = min(later, key=lambda x: x[0])
        await _tell_waiting(conn, order, who.name, until, why, now)
        # Looked at again when the supplier is back, or at the refund deadline if sooner.
        return Wait(max((min(until, give_up_at) - now).total_seconds(), 0))
    await fail_order(conn, order, reason="suppliers_failed" if attempts else "no_supplier", now=now)
    return None


async def refund_due_at(conn: Conn, order: OrderRow) -> datetime:
    """When an order not fulfilled by then is refunded: the product's
    ``refund_after_seconds`` counted from payment."""
    product = await catalog.by_id(conn, order.product_id)
    paid = order.paid_at or order.created_at
    return paid + _seconds(product.refund_after_seconds if product else 3600)


def _reason_word(attempt: AttemptRow) -> str:
    """A machine word the timeline translates (texts.SUPPLY_REASONS)."""
    if not attempt.refused:
        return "failed"
    error = attempt.error or ""
    return error if error in ("maintenance", "balance", "price") else "refused"


async def _tell_waiting(
    conn: Conn, order: OrderRow, supplier: str, until: datetime, why: str, now: datetime
) -> None:
    """Once per reason and time: the timeline does not fill with the same line."""
    params = {"supplier": supplier, "until": until.isoformat(), "reason": why}
    last = await repo.last_event_of(conn, order.id)
    if last is not None and last[0] == OrderEventType.SUPPLIER_WAITING and last[1] == params:
        return
    await order_states.append_event(
        conn,
        order_id=order.id,
        event=OrderEventType.SUPPLIER_WAITING,
        actor=Actor.SYSTEM,
        now=now,
        params=params,
    )


async def _event(
    conn: Conn, order: OrderRow, event: OrderEventType, now: datetime, **params: str | int
) -> None:
    await order_states.append_event(
        conn, order_id=order.id, event=event, actor=Actor.SYSTEM, now=now, params=dict(params)
    )


async def apply(
    conn: Conn,
    cfg: SupplyConfig,
    order_id: int,
    attempt_id: int,
    answer: SupplierAnswer,
    *,
    via: str,
    now: datetime,
) -> Next:
    """Record a supplier's answer (to a placement, a query or a callback)."""
    order = await orders.lock_by_id(conn, order_id)
    attempt = await repo.attempt_by_id(conn, attempt_id)
    if order is None or attempt is None or attempt.status not in LIVE:
        return 0.0  # already final (a callback or another worker won): look again
    if via != "callback":
        healthy = answer.outcome not in (Outcome.UNKNOWN, Outcome.REFUSED)
        await repo.record_call(
            conn,
            attempt.supplier_id,
            ok=healthy,
            latency_ms=answer.latency_ms,
            error=None if healthy else f"{answer.reason}: {answer.message}"[:300],
            now=now,
            trip_after=cfg.breaker_trip_after,
            open_for=cfg.scaled(cfg.breaker_open_seconds),
        )
    outcome = answer.outcome
    ids = _Ids(attempt.id, now, answer.supplier_order_no)
    if outcome == Outcome.SUCCEEDED:
        if await _deliver(conn, cfg, order, attempt, answer, now):
            return None
        outcome = Outcome.UNKNOWN  # "success" without the goods: ask again
    if outcome == Outcome.FAILED:
        await transition(
            conn,
            to=AttemptStatus.FAILED,
            error=answer.message or "failed",
            **ids.kwargs(),
        )
        return 0.0
    if outcome == Outcome.REFUSED:
        await transition(
            conn,
            to=AttemptStatus.FAILED,
            refused=True,
            error=answer.reason or "refused",
            retry_after=answer.retry_after or now + cfg.scaled(cfg.refused_retry_seconds),
            result={"message": answer.message},
            **ids.kwargs(),
        )
        return 0.0
    wait = cfg.backoff(attempt.checks + 1)
    if outcome == Outcome.NOT_FOUND and via == "query":
        sent = attempt.sent_at or attempt.created_at
        if now - sent >= cfg.scaled(cfg.not_found_grace_seconds) and attempt.checks >= 2:
            # It never arrived: place it again at the same supplier, same key.
            await transition(
                conn,
                to=AttemptStatus.SENT,
                result={"resend": True},
                checked=True,
                next_check_at=now,
                **ids.kwargs(),
            )
            return 0.0
    if outcome == Outcome.PROCESSING:
        if via == "callback":  # says nothing new: the schedule of checks stands
            return None
        await transition(
            conn, to=AttemptStatus.SENT, checked=True, next_check_at=now + wait, **ids.kwargs()
        )
        if via == "query" and attempt.checks + 1 == cfg.slow_after_checks:
            await _slow(conn, cfg, order, attempt, now)
        return wait.total_seconds()
    # UNKNOWN (timeout, garbage), or NOT_FOUND within the grace window.
    first_time = attempt.status != AttemptStatus.UNKNOWN
    await transition(
        conn,
        to=AttemptStatus.UNKNOWN,
        error=answer.reason or "unknown",
        checked=True,
        next_check_at=now + wait,
        **ids.kwargs(),
    )
    if first_time:
        await _slow(conn, cfg, order, attempt, now)
    return wait.total_seconds()


async def _slow(
    conn: Conn, cfg: SupplyConfig, order: OrderRow, attempt: AttemptRow, now: datetime
) -> None:
    supplier = await repo.supplier_by_id(conn, attempt.supplier_id)
    await _event(
        conn, order, OrderEventType.SUPPLIER_SLOW, now, supplier=supplier.name if supplier else "?"
    )


async def _deliver(
    conn: Conn,
    cfg: SupplyConfig,
    order: OrderRow,
    attempt: AttemptRow,
    answer: SupplierAnswer,
    now: datetime,
) -> bool:
    """Record the supplier's success and deliver; False when the goods are missing."""
    owed = order.quantity - order.delivered_quantity
    if order.product_kind == ProductKind.UPSTREAM_CARD:
        cards = answer.cards[:owed]
        if len(cards) < owed:
            return False
        sealed = []
        for card in cards:
            fingerprint = cfg.cipher.fingerprint(card.number)
            sealed.append(
                (
                    fingerprint,
                    cfg.cipher.seal(
                        card.number,
                        card.password,
                        product_id=order.product_id,
                        fingerprint=fingerprint,
                    ),
                )
            )
        stored = await insert_sold(
            conn,
            product_id=order.product_id,
            order_id=order.id,
            sealed=sealed,
            first_slot=order.delivered_quantity + 1,
            now=now,
        )
        if stored < owed:
            return False  # a card this shop already holds: not goods we can hand out
    moved = await transition(
        conn,
        attempt_id=attempt.id,
        to=AttemptStatus.SUCCEEDED,
        now=now,
        supplier_order_no=answer.supplier_order_no,
        result={"voucher": answer.voucher, "price_cents": answer.price_cents},
    )
    if not moved:
        return True
    supplier = await repo.supplier_by_id(conn, attempt.supplier_id)
    topup = order.product_kind == ProductKind.TOPUP
    await order_states.transition(
        conn,
        order_id=order.id,
        to=OrderStatus.DELIVERED,
        event=OrderEventType.TOPPED_UP if topup else OrderEventType.DELIVERED,
        actor=Actor.SUPPLIER,
        now=now,
        params={
            "supplier": supplier.name if supplier else "?",
            "delivered": order.quantity,
            "quantity": order.quantity,
        },
        delivered_quantity=order.quantity,
    )
    await orders.set_next_deadline(conn, order.id, None)
    return True


async def fail_order(conn: Conn, order: OrderRow, *, reason: str, now: datetime) -> None:
    """No supplier can fulfil it, or its refund deadline came: refund, and say so.
    The caller holds the order's row lock; nothing may be live at a supplier."""
    for attempt in await repo.attempts_of_order(conn, order.id):
        if attempt.status == AttemptStatus.CREATED:  # never sent: cancel
            await transition(
                conn,
                attempt_id=attempt.id,
                to=AttemptStatus.FAILED,
                now=now,
                refused=True,
                error="cancelled",
            )
    await order_states.transition(
        conn,
        order_id=order.id,
        to=OrderStatus.FAILED,
        event=OrderEventType.FULFILMENT_FAILED,
        actor=Actor.SYSTEM,
        now=now,
        params={"reason": reason},
    )
    await refund_failed_order(conn, order, reason=reason, now=now)
    await orders.set_next_deadline(conn, order.id, None)


async def start(conn: Conn, order: OrderRow, *, now: datetime) -> None:
    """A paid top-up / upstream-card order enters the engine (the caller holds
    its row lock, in the payment's transaction): no network here, a job is deferred."""
    await order_states.transition(
        conn,
        order_id=order.id,
        to=OrderStatus.FULFILLING,
        event=OrderEventType.FULFILLING,
        actor=Actor.SYSTEM,
        now=now,
    )
    product = await catalog.by_id(conn, order.product_id)
    sla = product.sla_seconds if product else 600
    await orders.set_next_deadline(conn, order.id, (order.paid_at or now) + _seconds(sla))
    await defer(conn, JobName.SUPPLY_ADVANCE, order_id=order.id)


def _seconds(n: float) -> timedelta:
    return timedelta(seconds=n)
