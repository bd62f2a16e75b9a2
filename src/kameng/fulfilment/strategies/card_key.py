"""Card keys from the shop's own stock."""

from __future__ import annotations

from datetime import datetime

from kameng.cardkeys.repository import claim_keys, secrets_of_order
from kameng.db.connection import Conn
from kameng.fulfilment.stock_deadline import sla_deadline
from kameng.kit.crypto import CardKeyCipher
from kameng.models.vocabulary import ProductKind
from kameng.orders import repository as orders
from kameng.orders.repository import OrderRow
from kameng.orders.service import CardKeyItem
from kameng.orders.states import Actor, OrderEventType, OrderStatus, append_event, transition


class CardKeyStrategy:
    kind = ProductKind.CARD_KEY

    async def fulfil(self, conn: Conn, order: OrderRow, *, now: datetime) -> bool:
        wanted = order.quantity - order.delivered_quantity
        claimed = await claim_keys(
            conn,
            product_id=order.product_id,
            order_id=order.id,
            wanted=wanted,
            first_slot=order.delivered_quantity + 1,
            now=now,
        )
        delivered = order.delivered_quantity + len(claimed)
        progress = {"delivered": delivered, "quantity": order.quantity}
        complete = delivered == order.quantity
        target = OrderStatus.DELIVERED if complete else OrderStatus.AWAITING_STOCK
        # Short of keys: wait, visibly, never "delivered" without goods.
        if target != order.status:
            await transition(
                conn,
                order_id=order.id,
                to=target,
                event=OrderEventType.DELIVERED if complete else OrderEventType.AWAITING_STOCK,
                actor=Actor.SYSTEM,
                now=now,
                params=progress,
                delivered_quantity=delivered,
            )
            # Waiting for stock has a deadline; delivered, nothing is due any more.
            deadline = None if complete else await sla_deadline(conn, order, now=now)
            await orders.set_next_deadline(conn, order.id, deadline)
        elif claimed:
            await orders.set_delivered_quantity(conn, order.id, delivered, now)
            await append_event(
                conn,
                order_id=order.id,
                event=OrderEventType.PARTIALLY_DELIVERED,
                actor=Actor.SYSTEM,
                now=now,
                params=progress,
            )
        return complete

    async def goods_of(
        self, conn: Conn, order: OrderRow, *, cipher: CardKeyCipher
    ) -> list[CardKeyItem]:
        return [
            CardKeyItem(
                *cipher.open(key.secret, product_id=key.product_id, fingerprint=key.fingerprint)
            )
            for key in await secrets_of_order(conn, order.id)
        ]
