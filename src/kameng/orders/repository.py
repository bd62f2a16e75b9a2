"""All order SQL. Hot paths are single Core statements, no ORM loading."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True, slots=True)
class OrderRow:
    id: int
    order_no: str
    product_id: int
    product_sku: str
    product_name: str
    product_kind: str
    quantity: int
    unit_price_cents: int
    amount_cents: int
    contact: str | None
    query_password_hash: str | None
    gateway: str
    status: str
    delivered_quantity: int
    created_at: datetime
    expires_at: datetime
    paid_at: datetime | None
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class EventRow:
    type: str
    params: dict[str, Any]
    actor: str
    created_at: datetime


_ORDER_COLUMNS = """
    o.id, o.order_no, o.product_id, p.sku, p.name, p.kind, o.quantity, o.unit_price_cents,
    o.amount_cents, o.contact, o.query_password_hash, o.gateway, o.status,
    o.delivered_quantity, o.created_at, o.expires_at, o.paid_at, o.delivered_at
"""


def _order(row: Any) -> OrderRow:
    return OrderRow(*row)


async def insert_order(
    session: AsyncSession,
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
) -> int | None:
    """Insert the order and its first timeline event in one round trip.

    Returns the new id, or None when the number is already taken (the caller
    draws another).
    """
    result = await session.execute(
        text(
            """
            WITH created AS (
                INSERT INTO orders (order_no, product_id, quantity, unit_price_cents,
                    amount_cents, contact, query_password_hash, gateway, status,
                    delivered_quantity, created_at, expires_at, updated_at)
                VALUES (:order_no, :product_id, :quantity, :unit_price_cents,
                    :unit_price_cents * :quantity, :contact, :query_password_hash, :gateway,
                    'unpaid', 0, :now, :expires_at, :now)
                ON CONFLICT (order_no) DO NOTHING
                RETURNING id
            )
            INSERT INTO order_events (order_id, type, params, actor, created_at)
            SELECT id, 'created', CAST(:params AS jsonb), 'buyer', :now FROM created
            RETURNING order_id
            """
        ),
        {
            "order_no": order_no,
            "product_id": product_id,
            "quantity": quantity,
            "unit_price_cents": unit_price_cents,
            "contact": contact,
            "query_password_hash": query_password_hash,
            "gateway": gateway,
            "now": now,
            "expires_at": expires_at,
            "params": json.dumps(event_params, ensure_ascii=False),
        },
    )
    return result.scalar_one_or_none()


async def get_by_number(session: AsyncSession, order_no: str) -> OrderRow | None:
    result = await session.execute(
        text(
            f"SELECT {_ORDER_COLUMNS} FROM orders o JOIN products p ON p.id = o.product_id "
            "WHERE o.order_no = :n"
        ),
        {"n": order_no},
    )
    row = result.first()
    return _order(row) if row else None


async def lock_by_number(session: AsyncSession, order_no: str) -> OrderRow | None:
    """The order row, locked until the transaction ends (serialises notifies)."""
    result = await session.execute(
        text(
            f"SELECT {_ORDER_COLUMNS} FROM orders o JOIN products p ON p.id = o.product_id "
            "WHERE o.order_no = :n FOR UPDATE OF o"
        ),
        {"n": order_no},
    )
    row = result.first()
    return _order(row) if row else None


async def lock_by_id(session: AsyncSession, order_id: int) -> OrderRow | None:
    result = await session.execute(
        text(
            f"SELECT {_ORDER_COLUMNS} FROM orders o JOIN products p ON p.id = o.product_id "
            "WHERE o.id = :id FOR UPDATE OF o"
        ),
        {"id": order_id},
    )
    row = result.first()
    return _order(row) if row else None


async def events_of(session: AsyncSession, order_id: int) -> list[EventRow]:
    result = await session.execute(
        text(
            "SELECT type, params, actor, created_at FROM order_events "
            "WHERE order_id = :id ORDER BY id"
        ),
        {"id": order_id},
    )
    return [EventRow(*row) for row in result]


async def existing_numbers(session: AsyncSession, candidates: list[str]) -> list[OrderRow]:
    if not candidates:
        return []
    result = await session.execute(
        text(
            f"SELECT {_ORDER_COLUMNS} FROM orders o JOIN products p ON p.id = o.product_id "
            "WHERE o.order_no = ANY(:c) ORDER BY o.created_at DESC LIMIT 5"
        ),
        {"c": candidates},
    )
    return [_order(row) for row in result]


async def find_by_trade_no(session: AsyncSession, trade_no: str) -> OrderRow | None:
    result = await session.execute(
        text(
            f"SELECT {_ORDER_COLUMNS} FROM payments pay JOIN orders o ON o.id = pay.order_id "
            "JOIN products p ON p.id = o.product_id WHERE pay.trade_no = :t LIMIT 1"
        ),
        {"t": trade_no},
    )
    row = result.first()
    return _order(row) if row else None


async def lock_expired_unpaid(session: AsyncSession, *, now: datetime, limit: int) -> list[int]:
    result = await session.execute(
        text(
            "SELECT id FROM orders WHERE status = 'unpaid' AND expires_at <= :now "
            "ORDER BY expires_at LIMIT :limit FOR UPDATE SKIP LOCKED"
        ),
        {"now": now, "limit": limit},
    )
    return [row[0] for row in result]


async def lock_oldest_awaiting_stock(session: AsyncSession, product_id: int) -> int | None:
    """Oldest paid order still waiting for keys of this product (first paid, first served)."""
    result = await session.execute(
        text(
            "SELECT id FROM orders WHERE status = 'awaiting_stock' AND product_id = :p "
            "ORDER BY paid_at, id LIMIT 1 FOR UPDATE SKIP LOCKED"
        ),
        {"p": product_id},
    )
    return result.scalar_one_or_none()


async def products_awaiting_stock(session: AsyncSession) -> list[int]:
    result = await session.execute(
        text("SELECT DISTINCT product_id FROM orders WHERE status = 'awaiting_stock'")
    )
    return [row[0] for row in result]


async def set_delivered_quantity(
    session: AsyncSession, order_id: int, quantity: int, now: datetime
) -> None:
    await session.execute(
        text("UPDATE orders SET delivered_quantity = :q, updated_at = :now WHERE id = :id"),
        {"q": quantity, "now": now, "id": order_id},
    )
