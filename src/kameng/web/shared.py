"""Steps both the JSON API and the pages take the same way."""

from __future__ import annotations

from datetime import timedelta

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from kameng.kit import clock, order_numbers
from kameng.kit.errors import OrderNumberInvalid, WrongPassword
from kameng.kit.passwords import verify_password
from kameng.orders import repository as orders_repo
from kameng.orders import service as orders
from kameng.orders.repository import OrderRow
from kameng.orders.service import OrderDetail
from kameng.payments.gateways.base import PayRequest
from kameng.web.deps import browser_owns
from kameng.web.runtime import Runtime


def order_url(rt: Runtime, order_no: str) -> str:
    return f"{rt.settings.public_url.rstrip('/')}/o/{order_no}"


def pay_url(rt: Runtime, order: OrderRow) -> str | None:
    gateway = rt.gateways.get(order.gateway)
    if gateway is None:
        return None
    base = rt.settings.public_url.rstrip("/")
    return gateway.pay_url(
        PayRequest(
            order_no=order.order_no,
            amount_cents=order.amount_cents,
            subject=order.product_name,
            notify_url=f"{base}/notify/{gateway.name}",
            return_url=f"{base}/o/{order.order_no}",
        )
    )


def checked_number(text: str) -> str:
    """A path's order number, normalised; a typo is a clear 422, not a 404."""
    number = order_numbers.normalize(text)
    if not order_numbers.is_valid(number):
        raise OrderNumberInvalid(value=text[:40])
    return number


async def create(
    session: AsyncSession,
    rt: Runtime,
    *,
    sku: str,
    quantity: int,
    contact: str | None,
    query_password: str | None,
    gateway: str,
) -> OrderRow:
    return await orders.create_order(
        session,
        sku=sku,
        quantity=quantity,
        contact=contact,
        query_password=query_password,
        gateway=gateway,
        known_gateways=rt.gateways.names(),
        ttl=timedelta(seconds=rt.settings.unpaid_ttl_seconds),
        now=clock.now(),
    )


async def detail(
    session: AsyncSession,
    rt: Runtime,
    request: Request,
    order_no: str,
    *,
    password: str | None,
    token: str | None,
) -> OrderDetail:
    """The order for whoever asks; its goods only for the owner.

    Owner = right query password, or the signed token of the browser that
    placed it. A wrong password is an error, so a typo is not mistaken for
    "no goods yet".
    """
    number = checked_number(order_no)
    authorised = browser_owns(request, rt, number, token)
    if password and not authorised:
        order = await orders_repo.get_by_number(session, number)
        if order is not None:
            if not verify_password(order.query_password_hash, password):
                raise WrongPassword()
            authorised = True
    return await orders.get_detail(session, number, cipher=rt.cipher, authorised=authorised)
