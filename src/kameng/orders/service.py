"""Creating orders and showing them. Services never commit; the caller does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from kameng.cardkeys.repository import secrets_of_order
from kameng.catalog import repository as catalog
from kameng.catalog.errors import ProductNotFound
from kameng.db.connection import Conn
from kameng.kit import order_numbers
from kameng.kit.crypto import CardKeyCipher
from kameng.kit.passwords import hash_password
from kameng.orders import repository
from kameng.orders.errors import (
    ContactTooLong,
    GatewayUnknown,
    OrderNotFound,
    QuantityInvalid,
    QueryPasswordLength,
)
from kameng.orders.repository import EventRow, OrderRow
from kameng.orders.states import Actor, OrderEventType, OrderStatus, transition

_NUMBER_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class CardKeyItem:
    number: str
    password: str


@dataclass(frozen=True, slots=True)
class OrderDetail:
    order: OrderRow
    timeline: list[EventRow]
    goods: list[CardKeyItem] | None  # None: not authorised to see them


async def create_order(
    conn: Conn,
    *,
    sku: str,
    quantity: int,
    contact: str | None,
    query_password: str | None,
    gateway: str,
    known_gateways: list[str],
    ttl: timedelta,
    now: datetime,
) -> OrderRow:
    """Create an unpaid order; its number exists from this moment on."""
    if gateway not in known_gateways:
        raise GatewayUnknown(gateway=gateway)
    product = await catalog.active_by_sku(conn, sku)
    if product is None:
        raise ProductNotFound(sku=sku)
    if not 1 <= quantity <= product.max_quantity:
        raise QuantityInvalid(max=product.max_quantity)
    contact = (contact or "").strip() or None
    if contact is not None and len(contact) > 120:
        raise ContactTooLong(max=120)
    if query_password is not None and not 4 <= len(query_password) <= 64:
        raise QueryPasswordLength(min=4, max=64)
    password_hash = hash_password(query_password) if query_password else None
    for _ in range(_NUMBER_ATTEMPTS):
        order_no = order_numbers.generate()
        order_id = await repository.insert_order(
            conn,
            order_no=order_no,
            product_id=product.id,
            quantity=quantity,
            unit_price_cents=product.price_cents,
            contact=contact,
            query_password_hash=password_hash,
            gateway=gateway,
            now=now,
            expires_at=now + ttl,
            event_params={
                "quantity": quantity,
                "amount_cents": product.price_cents * quantity,
                "gateway": gateway,
            },
        )
        if order_id is not None:
            return OrderRow(
                id=order_id,
                order_no=order_no,
                product_id=product.id,
                product_sku=product.sku,
                product_name=product.name,
                product_kind=product.kind,
                quantity=quantity,
                unit_price_cents=product.price_cents,
                amount_cents=product.price_cents * quantity,
                contact=contact,
                query_password_hash=password_hash,
                gateway=gateway,
                status=OrderStatus.UNPAID,
                delivered_quantity=0,
                created_at=now,
                expires_at=now + ttl,
                paid_at=None,
                delivered_at=None,
            )
    raise RuntimeError("could not draw a free order number")  # 1e-15 odds, five times over


async def get_detail(
    conn: Conn,
    order_no: str,
    *,
    cipher: CardKeyCipher,
    authorised: bool,
) -> OrderDetail:
    order = await repository.get_by_number(conn, order_no)
    if order is None:
        raise OrderNotFound(order_no=order_no)
    timeline = await repository.events_of(conn, order.id)
    goods: list[CardKeyItem] | None = None
    if authorised:
        goods = [CardKeyItem(*cipher.open(blob)) for blob in await secrets_of_order(conn, order.id)]
    return OrderDetail(order=order, timeline=timeline, goods=goods)


async def expire_due(conn: Conn, *, now: datetime, limit: int = 200) -> int:
    """Expire unpaid orders past their deadline; returns how many."""
    ids = await repository.lock_expired_unpaid(conn, now=now, limit=limit)
    for order_id in ids:
        await transition(
            conn,
            order_id=order_id,
            to=OrderStatus.EXPIRED,
            event=OrderEventType.EXPIRED,
            actor=Actor.SYSTEM,
            now=now,
        )
    return len(ids)
