"""Manual products (人工): a paid order waits for an operator (``kameng fulfil-manual``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from kameng.catalog import repository as catalog
from kameng.db.connection import Conn
from kameng.fulfilment.supply import repository as supply
from kameng.kit.crypto import CardKeyCipher
from kameng.models.vocabulary import Actor, OrderEventType, OrderStatus, ProductKind
from kameng.orders import repository as orders
from kameng.orders.repository import OrderRow
from kameng.orders.service import CardKeyItem, GoodsKind
from kameng.orders.states import transition


class ManualStrategy:
    kind = ProductKind.MANUAL

    async def fulfil(self, conn: Conn, order: OrderRow, *, now: datetime) -> bool:
        if order.status != OrderStatus.PAID:
            return False
        await transition(
            conn,
            order_id=order.id,
            to=OrderStatus.AWAITING_OPERATOR,
            event=OrderEventType.AWAITING_OPERATOR,
            actor=Actor.SYSTEM,
            now=now,
        )
        product = await catalog.by_id(conn, order.product_id)
        sla = timedelta(seconds=product.sla_seconds if product else 600)
        await orders.set_next_deadline(conn, order.id, (order.paid_at or now) + sla)
        return False

    async def goods_of(
        self, conn: Conn, order: OrderRow, *, cipher: CardKeyCipher
    ) -> list[CardKeyItem]:
        text = await supply.manual_delivery_of(conn, order.id)
        return [CardKeyItem(number=text, password="", kind=GoodsKind.TEXT)] if text else []
