"""Fulfilment entry points; the caller holds the order row lock and commits."""

from __future__ import annotations

from datetime import datetime

from kameng.db.connection import Conn
from kameng.fulfilment.strategies.registry import for_kind
from kameng.orders import repository as orders
from kameng.orders.repository import OrderRow


async def fulfil(conn: Conn, order: OrderRow, *, now: datetime) -> bool:
    """True when the order is now fully delivered."""
    return await for_kind(order.product_kind).fulfil(conn, order, now=now)


async def fulfil_next_waiting(conn: Conn, product_id: int, *, now: datetime) -> bool:
    """Serve the oldest order waiting for this product's stock.

    Returns True when that order is now fully delivered, so the caller may
    go on to the next one; False when there is no waiting order or no stock.
    """
    order = await orders.lock_oldest_awaiting_stock(conn, product_id)
    if order is None:
        return False
    return await fulfil(conn, order, now=now)
