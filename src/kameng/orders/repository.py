"""All order SQL. Hot paths are single statements on psycopg, prepared by text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from kameng.db.connection import Conn, execute, fetch_all, fetch_all_as, fetch_one, fetch_one_as
from kameng.db.rows import row_of
from kameng.models.vocabulary import (
    Actor,
    OrderEventType,
    OrderStatus,
    ProductKind,
)


@row_of(
    "orders",
    product_sku="products.sku",
    product_name="products.name",
    product_kind="products.kind",
)
@dataclass(frozen=True, slots=True)
class OrderRow:
    id: int
    order_no: str
    product_id: int
    product_sku: str
    product_name: str
    product_kind: ProductKind
    quantity: int
    unit_price_cents: int
    amount_cents: int
    contact: str | None
    query_password_hash: str | None
    gateway: str
    status: OrderStatus
    delivered_quantity: int
    created_at: datetime
    expires_at: datetime
    paid_at: datetime | None
    delivered_at: datetime | None


@row_of("order_events")
@dataclass(frozen=True, slots=True)
class EventRow:
    type: OrderEventType
    params: dict[str, Any]
    actor: Actor
    created_at: datetime


# Column order is kept stable (the bench's raw side reads this row by position).
_SELECT_ORDER = """
    SELECT o.id, o.order_no, o.product_id, p.sku AS product_sku, p.name AS product_name,
        p.kind AS product_kind, o.quantity,
        o.unit_price_cents, o.amount_cents, o.contact, o.query_password_hash, o.gateway,
        o.status, o.delivered_quantity, o.created_at, o.expires_at, o.paid_at, o.delivered_at
    FROM orders o JOIN products p ON p.id = o.product_id
"""
_BY_NUMBER = _SELECT_ORDER + " WHERE o.order_no = %(n)s"
_LOCK_BY_NUMBER = _BY_NUMBER + " FOR UPDATE OF o"

_INSERT_ORDER = f"""
    WITH created AS (
        INSERT INTO orders (order_no, product_id, quantity, unit_price_cents,
            amount_cents, contact, query_password_hash, gateway, status,
            delivered_quantity, created_at, expires_at, updated_at, locale, next_query_at)
        VALUES (%(order_no)s, %(product_id)s, %(quantity)s, %(unit_price_cents)s,
            %(amount_cents)s, %(contact)s, %(query_password_hash)s, %(gateway)s,
            '{OrderStatus.UNPAID}', 0, %(now)s, %(expires_at)s, %(now)s, %(locale)s,
            %(next_query_at)s)
        ON CONFLICT (order_no) DO NOTHING
        RETURNING id
    ), inputs AS (
        INSERT INTO order_inputs (order_id, fields)
        SELECT id, %(inputs)s FROM created WHERE %(inputs)s::jsonb IS NOT NULL
    )
    INSERT INTO order_events (order_id, type, params, actor, created_at)
    SELECT id, '{OrderEventType.CREATED}', %(params)s, '{Actor.BUYER}', %(now)s FROM created
    RETURNING order_id
"""


async def insert_order(
    conn: Conn,
    *,
    order_no: str,
    product_id: int,
    quantity: int,
    unit_price_cents: int,
    contact: str | None,
    query_password_hash: str | None,
    gateway: str,
    now: datetime,
    expires_at: datetime,
    event_params: dict[str, Any],
    inputs: dict[str, str] | None = None,
    locale: str | None = None,
    next_query_at: datetime | None = None,
) -> int | None:
    """Insert the order, its first timeline event and what the buyer filled in
    (``inputs``, a top-up's account; none when empty) in one statement: one
    round trip, and all or nothing even outside a transaction. ``next_query_at``:
    the first 主动查单 ask, when the schedule starts at creation.

    Returns the new id, or None when the number is already taken (the caller
    draws another).
    """
    row = await fetch_one(
        conn,
        _INSERT_ORDER,
        {
            "order_no": order_no,
            "product_id": product_id,
            "quantity": quantity,
            "unit_price_cents": unit_price_cents,
            "amount_cents": unit_price_cents * quantity,
            "contact": contact,
            "query_password_hash": query_password_hash,
            "gateway": gateway,
            "now": now,
            "expires_at": expires_at,
            "params": Jsonb(event_params),
            "inputs": Jsonb(inputs) if inputs else None,
            "locale": locale,
            "next_query_at": next_query_at,
        },
    )
    return None if row is None else int(row[0])


async def get_by_number(conn: Conn, order_no: str) -> OrderRow | None:
    return await fetch_one_as(conn, OrderRow, _BY_NUMBER, {"n": order_no})


async def lock_by_number(conn: Conn, order_no: str) -> OrderRow | None:
    """The order row, locked until the transaction ends (serialises notifies)."""
    return await fetch_one_as(conn, OrderRow, _LOCK_BY_NUMBER, {"n": order_no})


async def events_of(conn: Conn, order_id: int) -> list[EventRow]:
    return await fetch_all_as(
        conn,
        EventRow,
        "SELECT type, params, actor, created_at FROM order_events "
        "WHERE order_id = %(id)s ORDER BY id",
        {"id": order_id},
    )


async def existing_numbers(conn: Conn, candidates: list[str]) -> list[OrderRow]:
    if not candidates:
        return []
    return await fetch_all_as(
        conn,
        OrderRow,
        _SELECT_ORDER + " WHERE o.order_no = ANY(%(c)s) ORDER BY o.created_at DESC LIMIT 5",
        {"c": candidates},
    )


async def find_by_trade_no(conn: Conn, trade_no: str) -> OrderRow | None:
    return await fetch_one_as(
        conn,
        OrderRow,
        _SELECT_ORDER + " JOIN payments pay ON pay.order_id = o.id WHERE pay.trade_no = %(t)s "
        "LIMIT 1",
        {"t": trade_no},
    )


async def find_by_trade_no_any(conn: Conn, trade_nos: list[str]) -> OrderRow | None:
    """The order paid by one of these trade numbers (index on payments.trade_no)."""
    if not trade_nos:
        return None
    return await fetch_one_as(
        conn,
        OrderRow,
        _SELECT_ORDER + " JOIN payments pay ON pay.order_id = o.id "
        "WHERE pay.trade_no = ANY(%(t)s) LIMIT 1",
        {"t": trade_nos},
    )


async def lock_expired_unpaid(conn: Conn, *, now: datetime, limit: int) -> list[int]:
    rows = await fetch_all(
        conn,
        f"SELECT id FROM orders WHERE status = '{OrderStatus.UNPAID}' AND expires_at <= %(now)s "
        "ORDER BY expires_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED",
        {"now": now, "limit": limit},
    )
    return [row[0] for row in rows]


async def lock_oldest_awaiting_stock(conn: Conn, product_id: int) -> OrderRow | None:
    """Oldest paid order still waiting for keys of this product (first paid, first served)."""
    return await fetch_one_as(
        conn,
        OrderRow,
        _SELECT_ORDER + f" WHERE o.status = '{OrderStatus.AWAITING_STOCK}' "
        "AND o.product_id = %(p)s ORDER BY o.paid_at, o.id LIMIT 1 FOR UPDATE OF o SKIP LOCKED",
        {"p": product_id},
    )


async def products_awaiting_stock(conn: Conn) -> list[int]:
    rows = await fetch_all(
        conn,
        f"SELECT DISTINCT product_id FROM orders WHERE status = '{OrderStatus.AWAITING_STOCK}'",
    )
    return [row[0] for row in rows]


async def set_delivered_quantity(conn: Conn, order_id: int, quantity: int, now: datetime) -> None:
    await execute(
        conn,
        "UPDATE orders SET delivered_quantity = %(q)s, updated_at = %(now)s WHERE id = %(id)s",
        {"q": quantity, "now": now, "id": order_id},
    )


async def count_by_status(conn: Conn) -> dict[str, int]:
    """Orders per status (for /metrics; one aggregate, no row locks)."""
    rows = await fetch_all(conn, "SELECT status, count(*) FROM orders GROUP BY status")
    return {str(status): int(n) for status, n in rows}


async def get_by_id(conn: Conn, order_id: int) -> OrderRow | None:
    return await fetch_one_as(
        conn, OrderRow, _SELECT_ORDER + " WHERE o.id = %(id)s", {"id": order_id}
    )


async def orders_of_contact(conn: Conn, contact: str, *, limit: int, offset: int) -> list[OrderRow]:
    """Orders placed with this contact, newest first (index ix_orders_contact)."""
    return await fetch_all_as(
        conn,
        OrderRow,
        _SELECT_ORDER + " WHERE lower(o.contact) = lower(%(c)s) AND o.contact IS NOT NULL "
        "ORDER BY lower(o.contact), o.created_at DESC LIMIT %(limit)s OFFSET %(offset)s",
        {"c": contact.strip(), "limit": limit, "offset": offset},
    )


async def set_next_deadline(conn: Conn, order_id: int, at: datetime | None) -> None:
    """The order's next SLA deadline (None: nothing due), read by the deadline sweep."""
    await execute(
        conn,
        "UPDATE orders SET next_deadline_at = %(at)s WHERE id = %(id)s",
        {"at": at, "id": order_id},
    )


async def lock_due_deadlines(
    conn: Conn, *, now: datetime, limit: int, under_review: bool = False
) -> list[OrderRow]:
    """Orders whose deadline has come, locked, skipping those another worker holds:
    those held for review (``under_review``), or all the others."""
    return await fetch_all_as(
        conn,
        OrderRow,
        _SELECT_ORDER + " WHERE o.next_deadline_at <= %(now)s "
        f"AND (o.status = '{OrderStatus.UNDER_REVIEW}') = %(review)s "
        "ORDER BY o.next_deadline_at LIMIT %(limit)s FOR UPDATE OF o SKIP LOCKED",
        {"now": now, "limit": limit, "review": under_review},
    )


async def lock_by_id(conn: Conn, order_id: int) -> OrderRow | None:
    return await fetch_one_as(
        conn, OrderRow, _SELECT_ORDER + " WHERE o.id = %(id)s FOR UPDATE OF o", {"id": order_id}
    )


async def inputs_of(conn: Conn, order_id: int) -> dict[str, str]:
    row = await fetch_one(
        conn, "SELECT fields FROM order_inputs WHERE order_id = %(id)s", {"id": order_id}
    )
    return {} if row is None else {str(k): str(v) for k, v in dict(row[0]).items()}


# Migration 0012's trigger sends the order id here on every timeline insert.
EVENTS_CHANNEL = "order_events"


async def listen_to_events(conn: Conn) -> None:
    """Subscribe ``conn`` (autocommit) to every order's timeline inserts."""
    await execute(conn, f"LISTEN {EVENTS_CHANNEL}")


async def listen_to(conn: Conn, channel: str) -> None:
    """Subscribe ``conn`` (autocommit) to another NOTIFY channel (a name of ours,
    never input: checked to be a plain identifier)."""
    if not channel.isidentifier():
        raise ValueError(f"not a channel name: {channel!r}")
    await execute(conn, f"LISTEN {channel}")
