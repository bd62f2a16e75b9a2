"""Fulfilment entry points; the caller holds the order row lock and commits."""

from __future__ import annotations

from datetime import datetime

from kameng.db.connection import Conn
from kameng.fulfilment.strategies.registry import for_kind
from kameng.orders import repository as orders
from kameng.orders.repository import OrderRow
from kameng.orders.states import OrderStatus


async def fulfil(conn: Conn, order: OrderRow, *, now: datetime) -> None:
    await for_kind(order.product_kind).fulfil(conn, order, now=now)


async def fulfil_next_waiting(conn: Conn, product_id: int, *, now: datetime) -> bool:
    """Serve the oldest order waiting for this product's stock.

    Returns True when that order is now fully delivered, so the caller may
    go on to the next one; False when there is no waiting order or no stock.
    """
    order_id = await orders.lock_oldest_awaiting_stock(conn, product_id)
    if order_id is None:
        return False
    order = await orders.lock_by_id(conn, order_id)
    if order is None or order.status != OrderStatus.AWAITING_STOCK:
        return False
    await fulfil(conn, order, now=now)
    after = await orders.lock_by_id(conn, order_id)
    return after is not None and after.status == OrderStatus.DELIVERED
