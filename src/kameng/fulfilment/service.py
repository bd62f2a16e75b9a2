"""Fulfilment entry points: serving a paid order (the caller holds its row lock and
commits) and handing out the goods it delivered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kameng.db.connection import Conn
from kameng.fulfilment.strategies.registry import for_kind
from kameng.kit.crypto import CardKeyCipher
from kameng.models.vocabulary import ProductKind
from kameng.orders import repository as orders
from kameng.orders.repository import OrderRow
from kameng.orders.service import CardKeyItem
from kameng.orders.states import PAID_SOURCES


async def fulfil(conn: Conn, order: OrderRow, *, now: datetime) -> bool:
    """True when the order is now fully delivered."""
    return await for_kind(order.product_kind).fulfil(conn, order, now=now)


def delivers_with_payment(order: OrderRow) -> bool:
    """True when the payment of this (locked) order and its delivery go in one
    statement (``payments.repository.pay_and_deliver_keys``): a card-key order,
    payable, nothing delivered yet. Anything else takes ``fulfil`` after the payment."""
    return (
        order.product_kind == ProductKind.CARD_KEY
        and order.delivered_quantity == 0
        and order.status in PAID_SOURCES
    )


async def fulfil_next_waiting(conn: Conn, product_id: int, *, now: datetime) -> bool:
    """Serve the oldest order waiting for this product's stock.

    Returns True when that order is now fully delivered, so the caller may
    go on to the next one; False when there is no waiting order or no stock.
    """
    order = await orders.lock_oldest_awaiting_stock(conn, product_id)
    if order is None:
        return False
    return await fulfil(conn, order, now=now)


@dataclass(frozen=True, slots=True)
class StrategyGoods:
    """An order's goods, as the strategy of its product kind hands them out
    (the ``orders.service.GoodsSource`` the web runtime passes in)."""

    cipher: CardKeyCipher

    async def goods_of(self, conn: Conn, order: OrderRow) -> list[CardKeyItem]:
        return await for_kind(order.product_kind).goods_of(conn, order, cipher=self.cipher)
