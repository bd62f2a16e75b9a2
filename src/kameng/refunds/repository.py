"""Refund SQL. Reads the order and payment rows it needs itself (one statement
each), so the refunds domain needs neither the orders' nor the payments' code."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kameng.db.connection import Conn, fetch_all, fetch_all_as, fetch_one, fetch_one_as
from kameng.db.rows import row_of
from kameng.models.vocabulary import Actor, RefundState, sql_values


@row_of("refunds")
@dataclass(frozen=True, slots=True)
class RefundRow:
    id: int
    order_id: int
    payment_id: int
    refund_no: str
    idempotency_key: str
    amount_cents: int
    state: RefundState
    reason: str
    actor: Actor
    attempts: int
    next_attempt_at: datetime | None
    gateway_refund_no: str | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    succeeded_at: datetime | None


@row_of("payments")
@dataclass(frozen=True, slots=True)
class RefundablePayment:
    id: int
    order_id: int
    gateway: str
    trade_no: str
    amount_cents: int
    refunds_claimed_cents: int

    @property
    def refundable_cents(self) -> int:
        return self.amount_cents - self.refunds_claimed_cents


_REFUND_COLUMNS = (
    "id, order_id, payment_id, refund_no, idempotency_key, amount_cents, state, reason, "
    "actor, attempts, next_attempt_at, gateway_refund_no, last_error, created_at, "
    "updated_at, succeeded_at"
)
_PAYMENT_COLUMNS = "id, order_id, gateway, trade_no, amount_cents, refunds_claimed_cents"


async def by_idempotency_key(conn: Conn, key: str) -> RefundRow | None:
    return await fetch_one_as(
        conn,
        RefundRow,
        f"SELECT {_REFUND_COLUMNS} FROM refunds WHERE idempotency_key = %(k)s",
        {"k": key},
    )


async def get(conn: Conn, refund_id: int) -> RefundRow | None:
    return await fetch_one_as(
        conn, RefundRow, f"SELECT {_REFUND_COLUMNS} FROM refunds WHERE id = %(i)s", {"i": refund_id}
    )


async def lock(conn: Conn, refund_id: int) -> RefundRow | None:
    return await fetch_one_as(
        conn,
        RefundRow,
        f"SELECT {_REFUND_COLUMNS} FROM refunds WHERE id = %(i)s FOR UPDATE",
        {"i": refund_id},
    )


async def lock_by_number(conn: Conn, refund_no: str) -> RefundRow | None:
    return await fetch_one_as(
        conn,
        RefundRow,
        f"SELECT {_REFUND_COLUMNS} FROM refunds WHERE refund_no = %(n)s FOR UPDATE",
        {"n": refund_no},
    )


async def of_order(conn: Conn, order_id: int) -> list[RefundRow]:
    return await fetch_all_as(
        conn,
        RefundRow,
        f"SELECT {_REFUND_COLUMNS} FROM refunds WHERE order_id = %(o)s ORDER BY id",
        {"o": order_id},
    )


async def lock_order_number(conn: Conn, order_id: int) -> str | None:
    """The order's number, its row locked: refunds of one order are decided one at a time."""
    row = await fetch_one(
        conn, "SELECT order_no FROM orders WHERE id = %(o)s FOR UPDATE", {"o": order_id}
    )
    return None if row is None else str(row[0])


async def paying_payment(conn: Conn, order_id: int) -> RefundablePayment | None:
    """The payment that paid the order (not a surplus one)."""
    return await fetch_one_as(
        conn,
        RefundablePayment,
        f"SELECT {_PAYMENT_COLUMNS} FROM payments WHERE order_id = %(o)s AND NOT surplus",
        {"o": order_id},
    )


async def payment_by_trade(conn: Conn, order_id: int, trade_no: str) -> RefundablePayment | None:
    return await fetch_one_as(
        conn,
        RefundablePayment,
        f"SELECT {_PAYMENT_COLUMNS} FROM payments WHERE order_id = %(o)s AND trade_no = %(t)s",
        {"o": order_id, "t": trade_no},
    )


async def payment(conn: Conn, payment_id: int) -> RefundablePayment | None:
    return await fetch_one_as(
        conn,
        RefundablePayment,
        f"SELECT {_PAYMENT_COLUMNS} FROM payments WHERE id = %(p)s",
        {"p": payment_id},
    )


async def count_of_order(conn: Conn, order_id: int) -> int:
    row = await fetch_one(
        conn, "SELECT count(*) FROM refunds WHERE order_id = %(o)s", {"o": order_id}
    )
    return int(row[0])


async def insert(
    conn: Conn,
    *,
    order_id: int,
    payment_id: int,
    refund_no: str,
    idempotency_key: str,
    amount_cents: int,
    reason: str,
    actor: Actor,
    now: datetime,
) -> RefundRow:
    row = await fetch_one_as(
        conn,
        RefundRow,
        "INSERT INTO refunds (order_id, payment_id, refund_no, idempotency_key, amount_cents, "
        "state, reason, actor, next_attempt_at, created_at, updated_at) VALUES ("
        "%(order_id)s, %(payment_id)s, %(refund_no)s, %(key)s, %(amount)s, %(state)s, "
        "%(reason)s, %(actor)s, %(now)s, %(now)s, %(now)s) "
        f"RETURNING {_REFUND_COLUMNS}",
        {
            "order_id": order_id,
            "payment_id": payment_id,
            "refund_no": refund_no,
            "key": idempotency_key,
            "amount": amount_cents,
            "state": RefundState.REQUESTED.value,
            "reason": reason,
            "actor": actor.value,
            "now": now,
        },
    )
    assert row is not None  # INSERT … RETURNING always returns the row
    return row


_RETRYABLE = sql_values(RefundState.REQUESTED, RefundState.FAILED)


async def due_ids(conn: Conn, *, now: datetime, limit: int) -> list[int]:
    """Refunds waiting for their (next) attempt, oldest due first (ix_refunds_due)."""
    rows = await fetch_all(
        conn,
        f"SELECT id FROM refunds WHERE state IN ({_RETRYABLE}) AND next_attempt_at <= %(now)s "
        "ORDER BY next_attempt_at LIMIT %(limit)s",
        {"now": now, "limit": limit},
    )
    return [int(r[0]) for r in rows]


async def submitted_before(conn: Conn, *, before: datetime, limit: int) -> list[int]:
    """Refunds the gateway has not answered for a while (ix_refunds_submitted)."""
    rows = await fetch_all(
        conn,
        f"SELECT id FROM refunds WHERE state = '{RefundState.SUBMITTED}' "
        "AND updated_at <= %(before)s ORDER BY updated_at LIMIT %(limit)s",
        {"before": before, "limit": limit},
    )
    return [int(r[0]) for r in rows]
