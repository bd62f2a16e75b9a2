"""Steps both the JSON API and the pages take the same way."""

from __future__ import annotations

from datetime import timedelta

from fastapi import Request, Response

from kameng.db.connection import Conn, atomic, single_statements
from kameng.kit import clock, order_numbers
from kameng.kit.i18n import Translator
from kameng.kit.logs import bind
from kameng.models.vocabulary import OrderStatus
from kameng.notices import service as notices
from kameng.notices.repository import NoticeRow
from kameng.orders import service as orders
from kameng.orders.errors import OrderNumberInvalid
from kameng.orders.repository import OrderRow
from kameng.orders.schemas import CreateOrderIn, OrderOut, order_out
from kameng.orders.service import OrderDetail
from kameng.payments.active_query import service as active_query
from kameng.payments.active_query.service import Visit
from kameng.payments.channels.errors import (
    NoChannelEnabled,
    OrderChannelRequired,
    OrderChannelUnknown,
)
from kameng.payments.gateways.base import PayRequest
from kameng.web.deps import COOKIE, owner_token, remember_cookie
from kameng.web.runtime import Runtime


def order_url(rt: Runtime, order_no: str) -> str:
    return f"{rt.settings.public_url.rstrip('/')}/o/{order_no}"


def pay_request(rt: Runtime, order: OrderRow, gateway_name: str) -> PayRequest:
    base = rt.settings.public_url.rstrip("/")
    return PayRequest(
        order_no=order.order_no,
        amount_cents=order.amount_cents,
        subject=order.product_name,
        notify_url=f"{base}/notify/{gateway_name}",
        # The buyer's way back pulls the active query forward (storefront.pay_start).
        return_url=f"{base}/o/{order.order_no}/return",
        start_url=f"{base}/o/{order.order_no}/pay",
    )


def pay_url(rt: Runtime, order: OrderRow) -> str | None:
    gateway = rt.gateways.get(order.gateway)
    if gateway is None:
        return None
    return gateway.pay_url(pay_request(rt, order, gateway.name))


async def buyer_visited(conn: Conn, order: OrderRow, visit: Visit) -> None:
    """Start or pull forward the order's active query (one cheap UPDATE, a job
    deferred at most: never a gateway call in the request)."""
    if order.status in (OrderStatus.UNPAID, OrderStatus.EXPIRED):
        async with atomic(conn):  # the nudge and its job together, even on single_statements
            await active_query.buyer_visited(
                conn, order_no=order.order_no, visit=visit, now=clock.now()
            )


def support_url(order_no: str) -> str:
    """The order's support ticket form (``web.storefront.support``)."""
    return f"/o/{order_no}/support"


async def notices_touching(conn: Conn, board: list[NoticeRow], order: OrderRow) -> list[NoticeRow]:
    """The active announcements of ``board`` (``rt.notices.get()``, read *before*
    the transaction: a snapshot rebuild takes a connection of its own) that touch
    this order."""
    return await notices.touching_order(
        conn,
        board,
        order_id=order.id,
        product_sku=order.product_sku,
        channel=order.gateway,
        now=clock.now(),
    )


async def active_notices(rt: Runtime) -> list[NoticeRow]:
    """Every active announcement (the storefront shows them all)."""
    return notices.active(await rt.notices.get(), clock.now())


def order_view(
    rt: Runtime, detail: OrderDetail, t: Translator, touching: list[NoticeRow]
) -> OrderOut:
    """The order as the page and the API show it, explained (kameng.orders.explain)."""
    order = detail.order
    return order_out(
        detail,
        t,
        rt.settings.display_timezone,
        now=clock.now(),
        pay_url=pay_url(rt, order) if order.status == OrderStatus.UNPAID else None,
        support_url=support_url(order.order_no),
        notices=touching,
    )


def checked_number(text: str) -> str:
    """A path's order number, normalised; a typo is a clear 422, not a 404."""
    number = order_numbers.normalize(text)
    if not order_numbers.is_valid(number):
        raise OrderNumberInvalid(value=text[:40])
    return number


def chosen_channel(rt: Runtime, asked: str | None) -> str:
    """The channel an order is created on: the one asked for, if it takes
    payments now; without one, the only enabled channel (with several, the
    buyer must choose). The order keeps the name: its notify must come there."""
    enabled = [c.name for c in rt.gateways.channels()]
    if not enabled:
        raise NoChannelEnabled()
    if asked is None:
        if len(enabled) == 1:
            return enabled[0]
        raise OrderChannelRequired(choices=", ".join(enabled))
    if asked not in enabled:
        raise OrderChannelUnknown(channel=asked[:32], choices=", ".join(enabled))
    return asked


async def create(
    rt: Runtime, body: CreateOrderIn, locale: str | None = None, *, hands_out_link: bool = False
) -> OrderRow:
    """Create the order and commit: its number exists from here on.

    A product read, then one statement writes the order, its first event and
    its inputs together (``orders.repository.insert_order``): no BEGIN/COMMIT.
    ``locale`` is the buyer's language (receipts sent later speak it).
    ``hands_out_link``: the caller gives out the pay link (the JSON API); when
    it goes straight to the gateway, no page of ours may ever see the buyer, so
    the 主动查单 schedule starts now, written with the order."""
    async with single_statements(rt.pool) as conn:
        await rt.gateways.refresh(conn)
        channel = chosen_channel(rt, body.channel or body.gateway)
        gateway = rt.gateways.get(channel)
        now = clock.now()
        direct = hands_out_link and gateway is not None and gateway.direct_pay_link
        order = await orders.create_order(
            conn,
            sku=body.product,
            quantity=body.quantity,
            contact=body.contact,
            query_password=body.query_password,
            passwords=rt.passwords,
            gateway=channel,
            known_gateways=[channel],
            ttl=timedelta(seconds=rt.settings.unpaid_ttl_seconds),
            now=now,
            fields=body.fields,
            locale=locale,
            first_query_at=active_query.first_ask_for_link(now) if direct else None,
        )
    bind(order_no=order.order_no)
    return order


def served_over_https(request: Request, rt: Runtime) -> bool:
    return request.url.scheme == "https" or rt.settings.public_url.startswith("https://")


def remember(response: Response, request: Request, order_no: str, token: str) -> None:
    """Give this browser the order's token in a cookie (Secure over https)."""
    response.set_cookie(
        COOKIE,
        remember_cookie(request, order_no, token),
        max_age=180 * 86400,
        httponly=True,
        samesite="lax",
        secure=served_over_https(request, request.app.state.runtime),
    )


async def detail(
    conn: Conn,
    rt: Runtime,
    request: Request,
    order_no: str,
    *,
    password: str | None,
    token: str | None,
) -> OrderDetail:
    """The order for whoever asks; its goods only for its owner (the orders
    domain decides: ``orders.service.may_see_goods``)."""
    number = checked_number(order_no)
    await rt.gateways.refresh(conn)  # its pay link is built with the current channel
    return await orders.get_detail(
        conn,
        number,
        password=password,
        token=owner_token(request, number, token),
        goods=rt.goods,
        token_secrets=[rt.token_secret, *rt.old_token_secrets],
        passwords=rt.passwords,
        throttle=rt.password_throttle,
        now=clock.now(),
    )
