"""Creating orders and showing them. Services never commit; the caller does."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from kameng.catalog import repository as catalog
from kameng.catalog.errors import ProductNotFound
from kameng.catalog.fields import parse_fields, validate
from kameng.db.connection import Conn
from kameng.kit import order_numbers
from kameng.kit.passwords import QueryPasswords
from kameng.kit.throttle import AttemptThrottle
from kameng.kit.tokens import check_order_token
from kameng.orders import repository
from kameng.orders.errors import (
    ContactTooLong,
    GatewayUnknown,
    OrderNotFound,
    QuantityInvalid,
    QueryPasswordLength,
    TooManyAttempts,
    WrongPassword,
)
from kameng.orders.repository import EventRow, OrderRow
from kameng.orders.states import Actor, OrderEventType, OrderStatus, transition

_NUMBER_ATTEMPTS = 5


class GoodsKind(StrEnum):
    """How a delivered item reads: a card (number + password; own stock and
    upstream cards 代发卡 alike), a top-up's receipt from the supplier, or the
    text the shop's staff delivered by hand."""

    CARD_KEY = "card_key"
    TOPUP_RECEIPT = "topup_receipt"
    TEXT = "text"


@dataclass(frozen=True, slots=True)
class CardKeyItem:
    number: str
    password: str
    kind: GoodsKind = GoodsKind.CARD_KEY


@dataclass(frozen=True, slots=True)
class OrderDetail:
    order: OrderRow
    timeline: list[EventRow]
    goods: list[CardKeyItem] | None  # None: not authorised to see them


class GoodsSource(Protocol):
    """Hands out what an order delivered; the fulfilment strategy of the order's
    product kind knows what that is (``kameng.fulfilment.service.StrategyGoods``)."""

    async def goods_of(self, conn: Conn, order: OrderRow) -> list[CardKeyItem]: ...


async def create_order(
    conn: Conn,
    *,
    sku: str,
    quantity: int,
    contact: str | None,
    query_password: str | None,
    passwords: QueryPasswords,
    gateway: str,
    known_gateways: list[str],
    ttl: timedelta,
    now: datetime,
    fields: dict[str, str] | None = None,
    locale: str | None = None,
    first_query_at: datetime | None = None,
) -> OrderRow:
    """Create an unpaid order; its number exists from this moment on.

    ``fields``: what the product asks the buyer to fill in (a top-up's account),
    checked against the product's declared fields (a clear error names the field).
    ``locale``: the buyer's language, kept for what is sent later (receipts).
    ``first_query_at``: the first 主动查单 ask, when its schedule starts at
    creation (a pay link that bypasses the shop's pages was handed out)."""
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
    # Checked before anything is written: a product without fields takes none.
    inputs = (
        validate(parse_fields(product.buyer_fields), fields)
        if product.buyer_fields or fields
        else {}
    )
    password_hash = passwords.hash(query_password) if query_password else None
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
            locale=locale,
            event_params={
                "quantity": quantity,
                "amount_cents": product.price_cents * quantity,
                "gateway": gateway,
            },
            inputs=inputs,
            next_query_at=first_query_at,
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
    password: str | None,
    token: str | None,
    goods: GoodsSource,
    token_secrets: Sequence[bytes],
    passwords: QueryPasswords,
    throttle: AttemptThrottle,
    now: datetime,
) -> OrderDetail:
    """The order for whoever asks; its goods only for its owner (``may_see_goods``)."""
    order = await repository.get_by_number(conn, order_no)
    if order is None:
        raise OrderNotFound(order_no=order_no)
    authorised = await may_see_goods(
        order,
        password=password,
        token=token,
        token_secrets=token_secrets,
        passwords=passwords,
        throttle=throttle,
        now=now,
    )
    # Each read below takes its own snapshot (READ COMMITTED), and a notify may
    # commit between them. Goods first, then the order again, then the timeline:
    # each read sees at least what the one before saw, so keys never show next
    # to "unpaid" (a timeline a step ahead of the status heals on the next poll).
    shown = await goods.goods_of(conn, order) if authorised else None
    if shown:
        order = await repository.get_by_id(conn, order.id) or order
    timeline = await repository.events_of(conn, order.id)
    return OrderDetail(order=order, timeline=timeline, goods=shown)


async def current(conn: Conn, order_id: int) -> tuple[OrderRow | None, list[EventRow]]:
    """The order and its timeline as they are now (live timelines re-read this)."""
    order = await repository.get_by_id(conn, order_id)
    return order, (await repository.events_of(conn, order_id) if order else [])


async def timeline_of(conn: Conn, order_id: int) -> list[EventRow]:
    """The order's timeline, oldest first."""
    return await repository.events_of(conn, order_id)


async def may_see_goods(
    order: OrderRow,
    *,
    password: str | None,
    token: str | None,
    token_secrets: Sequence[bytes],
    passwords: QueryPasswords,
    throttle: AttemptThrottle,
    now: datetime,
) -> bool:
    """Who may see an order's goods: its owner.

    Anyone with the number sees status and timeline. The owner is whoever holds
    the signed token of the browser that placed the order, or gives the order's
    query password. A wrong password is an error (WrongPassword), so a typo is
    not mistaken for "no goods yet"; after ``throttle.limit`` wrong passwords for
    one order, password checks for it are refused for ``throttle.window``
    (TooManyAttempts). The ordering browser is never locked out.
    """
    # The current secret's token, or one given out under a secret kept in
    # KAMENG_OLD_SECRET_KEYS (a shop that changed its secret).
    if any(check_order_token(secret, order.order_no, token) for secret in token_secrets):
        return True
    if not password:
        return False
    if await throttle.blocked(order.order_no, now):
        raise TooManyAttempts(minutes=int(throttle.window.total_seconds() // 60))
    if not await passwords.verify(order.query_password_hash, password):
        await throttle.failed(order.order_no, now)
        raise WrongPassword()
    return True


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
