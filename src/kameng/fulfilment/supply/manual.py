"""Manual products (人工): an operator delivers by hand, with the text the buyer sees."""

from __future__ import annotations

from datetime import datetime

from kameng.db.connection import Conn
from kameng.fulfilment.supply import repository as repo
from kameng.kit.errors import DomainError
from kameng.kit.i18n import N_
from kameng.models.vocabulary import Actor, OrderEventType, OrderStatus
from kameng.orders import repository as orders
from kameng.orders import states
from kameng.orders.errors import OrderNotFound


class NotAwaitingOperator(DomainError):
    status = 409
    code = "not_awaiting_operator"
    message = N_("Order %(order_no)s is not waiting for an operator (it is %(status)s)")


async def fulfil_manual(conn: Conn, order_no: str, *, text: str, now: datetime) -> None:
    order = await orders.lock_by_number(conn, order_no)
    if order is None:
        raise OrderNotFound(order_no=order_no)
    if order.status != OrderStatus.AWAITING_OPERATOR:
        raise NotAwaitingOperator(order_no=order_no, status=order.status)
    await repo.insert_manual_delivery(conn, order.id, text, now)
    await states.transition(
        conn,
        order_id=order.id,
        to=OrderStatus.DELIVERED,
        event=OrderEventType.MANUAL_DELIVERED,
        actor=Actor.OPERATOR,
        now=now,
        delivered_quantity=order.quantity,
    )
    await orders.set_next_deadline(conn, order.id, None)
