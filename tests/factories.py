"""Test data through the shop's own code: products through the catalogue
repository, card keys through the real importer (parse, seal, COPY, restock
job), orders through the order service, payments through the notify service
with a correctly signed epay notify. No test writes these rows by hand.

Every factory takes a ``Target``: the per-test psycopg ``pool``, the ``db``
session factory or a database URL; each call runs in its own committed
transaction, as the shop's requests and jobs do.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import unquote

import httpx
import psycopg
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kameng.cardkeys.importer import import_card_keys
from kameng.catalog import repository as catalog
from kameng.catalog.repository import ProductRow
from kameng.config import Settings
from kameng.db.connection import Conn, fetch_all
from kameng.db.engine import libpq_url
from kameng.db.jobs import JobName, defer
from kameng.kit import clock
from kameng.kit.money import format_yuan
from kameng.kit.passwords import QueryPasswords
from kameng.models.vocabulary import Actor, ProductKind
from kameng.orders import repository as orders_repo
from kameng.orders import service as orders
from kameng.orders.repository import OrderRow
from kameng.payments import service as payments
from kameng.payments.gateways import epay_sign
from kameng.payments.gateways.registry import from_settings
from kameng.payments.refunds.service import request_refund

Sessions = async_sessionmaker[AsyncSession]
Target = AsyncConnectionPool[Conn] | Sessions | str


# The test process's pool per database URL (registered by the ``_pool`` fixture
# with the event loop it lives on): factories given a URL or the ``db`` session
# factory borrow a pooled connection instead of opening one per call.
_POOLS: dict[str, tuple[AsyncConnectionPool[Conn], asyncio.AbstractEventLoop]] = {}


def _key(url: str) -> str:
    return unquote(libpq_url(url))  # SQLAlchemy percent-encodes ?host=/path


def register_pool(url: str, pool: AsyncConnectionPool[Conn] | None) -> None:
    if pool is None:
        _POOLS.pop(_key(url), None)
    else:
        _POOLS[_key(url)] = (pool, asyncio.get_running_loop())


@asynccontextmanager
async def transaction(target: Target) -> AsyncIterator[Conn]:
    """One committed transaction on a psycopg connection to the target's database."""
    if isinstance(target, str):
        url = libpq_url(target)
    elif isinstance(target, AsyncConnectionPool):
        url = ""
    else:
        url = libpq_url(target.kw["bind"].url.render_as_string(hide_password=False))
    pooled = _POOLS.get(_key(url)) if url else None
    if pooled is not None and pooled[1] is asyncio.get_running_loop():
        target = pooled[0]
    if isinstance(target, AsyncConnectionPool):
        async with target.connection() as conn, conn.transaction():
            yield conn
        return
    async with (
        await psycopg.AsyncConnection.connect(url) as conn,
        conn.transaction(),
    ):
        yield conn


# --- catalogue and stock -------------------------------------------------------


async def make_product(
    target: Target,
    *,
    sku: str = "GAME-10",
    name: str = "游戏点卡 10 元",
    price_cents: int = 1000,
    max_quantity: int = 10,
    kind: ProductKind = ProductKind.CARD_KEY,
    description: str = "",
) -> ProductRow:
    async with transaction(target) as conn:
        return await catalog.insert_product(
            conn,
            sku=sku,
            name=name,
            kind=kind,
            price_cents=price_cents,
            max_quantity=max_quantity,
            description=description,
            now=clock.now(),
        )


def key_lines(count: int, *, prefix: str) -> list[tuple[str, str]]:
    """``count`` distinct (number, password) pairs."""
    return [(f"{prefix}-{i:06d}", f"PW{i:06d}") for i in range(count)]


async def import_keys(
    target: Target, settings: Settings, sku: str, keys: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """Stock ``keys`` through the real importer; returns them (allocation order)."""
    if keys:
        async with transaction(target) as conn:
            report = await import_card_keys(
                conn,
                product_sku=sku,
                lines=[f"{number} {password}\n" for number, password in keys],
                cipher=settings.card_key_cipher(),
            )
        assert report.imported == len(keys), report
    return keys


@dataclass(frozen=True)
class StockedProduct:
    product: ProductRow
    keys: list[tuple[str, str]]  # (number, password), in the order they are sold


async def make_stocked_product(
    target: Target, settings: Settings, keys: int = 3, *, key_prefix: str = "", **product: Any
) -> StockedProduct:
    """A product with ``keys`` card keys imported the way an operator imports them."""
    row = await make_product(target, **product)
    stocked = await import_keys(
        target, settings, row.sku, key_lines(keys, prefix=key_prefix or row.sku)
    )
    return StockedProduct(row, stocked)


# --- orders and payments -------------------------------------------------------


async def make_order(
    target: Target,
    sku: str = "GAME-10",
    quantity: int = 1,
    *,
    query_password: str | None = None,
    contact: str | None = None,
    gateway: str = "epay",
    ttl: timedelta = timedelta(minutes=15),
    settings: Settings | None = None,
    locale: str | None = None,
) -> OrderRow:
    """An unpaid order, created by the order service as the buy button does
    (its query password hashed under ``settings``' secret when given)."""
    passwords = settings.query_passwords() if settings else QueryPasswords(b"t" * 32)
    async with transaction(target) as conn:
        return await orders.create_order(
            conn,
            sku=sku,
            quantity=quantity,
            contact=contact,
            query_password=query_password,
            passwords=passwords,
            gateway=gateway,
            known_gateways=[gateway],
            ttl=ttl,
            now=clock.now(),
            locale=locale,
        )


async def pay(
    target: Target, settings: Settings, order: OrderRow, *, trade_no: str | None = None
) -> payments.NotifyOutcome:
    """Apply a correctly signed epay notify for the whole amount (paid → delivered
    or awaiting stock, exactly as the notify endpoint does)."""
    params = signed_notify(settings, order.order_no, order.amount_cents, trade_no=trade_no)
    gateway = from_settings(settings).get("epay")
    async with transaction(target) as conn:
        return await payments.handle_notify(
            conn,
            gateway_name="epay",
            gateway=gateway,
            raw=payments.RawNotify(
                method="GET",
                raw_query="&".join(f"{k}={v}" for k, v in params.items()),
                remote_addr="127.0.0.1",
                query=tuple(params.items()),
            ),
            now=clock.now(),
        )


async def make_paid_order(
    target: Target,
    settings: Settings,
    sku: str = "GAME-10",
    quantity: int = 1,
    *,
    trade_no: str | None = None,
    **order: Any,
) -> OrderRow:
    """An order paid through the notify service; returns it as it is now."""
    created = await make_order(target, sku, quantity, settings=settings, **order)
    outcome = await pay(target, settings, created, trade_no=trade_no)
    assert outcome.verdict == "accepted", outcome
    async with transaction(target) as conn:
        current = await orders_repo.get_by_number(conn, created.order_no)
    assert current is not None
    return current


# --- the wire --------------------------------------------------------------------


def signed_notify(
    settings: Settings,
    order_no: str,
    amount_cents: int,
    *,
    trade_no: str | None = None,
    **overrides: str,
) -> dict[str, str]:
    """A notify exactly as epay V1 sends it (PHP-style money, MD5 over raw values)."""
    money = format_yuan(amount_cents).rstrip("0").rstrip(".")
    params = {
        "pid": settings.epay_pid,
        "trade_no": trade_no or f"2026{order_no}",
        "out_trade_no": order_no,
        "type": "alipay",
        "name": "游戏点卡 10 元",
        "money": money,
        "trade_status": "TRADE_SUCCESS",
    }
    params.update(overrides)
    params["sign"] = epay_sign.sign(params, settings.epay_key)
    params["sign_type"] = "MD5"
    return params


async def place_order(
    client: httpx.AsyncClient, sku: str = "GAME-10", quantity: int = 1, **extra: Any
) -> dict[str, Any]:
    """Create an order through the buyer API (``POST /api/shop/orders``)."""
    response = await client.post(
        "/api/shop/orders", json={"product": sku, "quantity": quantity, **extra}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def notify_verdicts(db: Sessions) -> list[str]:
    """The verdict of every payment_notifies row, oldest first."""
    async with db() as s:
        rows = await s.execute(text("SELECT verdict FROM payment_notifies ORDER BY id"))
        return [str(v) for v in rows.scalars()]


async def count(target: Target, sql: str, **params: Any) -> int:
    """One integer from ``sql`` (``:name`` parameters, as in SQLAlchemy ``text``)."""
    if isinstance(target, async_sessionmaker):
        async with target() as s:
            return int((await s.execute(text(sql), params)).scalar_one())
    async with transaction(target) as conn:
        cur = await conn.execute(re.sub(r"(?<!:):(\w+)", r"%(\1)s", sql), params)
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


# --- old names, kept while the suite moves over -----------------------------------


async def create_product(target: Target, **product: Any) -> int:
    """Deprecated: ``make_product`` (returns the row)."""
    return (await make_product(target, **product)).id


async def add_keys(
    target: Target, settings: Settings, product_id: int, count: int, *, prefix: str = "CARD"
) -> list[tuple[str, str]]:
    """Deprecated: ``make_stocked_product`` / ``import_keys``."""
    async with transaction(target) as conn:
        cur = await conn.execute("SELECT sku FROM products WHERE id = %s", (product_id,))
        row = await cur.fetchone()
    assert row is not None, f"no product {product_id}"
    keys = [(f"{prefix}{product_id}-{i:06d}", f"PW{i:06d}") for i in range(count)]
    return await import_keys(target, settings, row[0], keys)


async def csrf_form(client: httpx.AsyncClient, fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` plus the CSRF token this client's pages carry (every form has one)."""
    import re

    page = await client.get("/query/contact")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None
    return {**fields, "csrf": found.group(1)}


async def ask_refund(
    pool: Any, order_no: str, amount: int | None, key: str, *, reason: str = "test"
) -> int:
    """An operator's refund of ``amount`` (None: the rest) for ``order_no``; its id."""
    async with transaction(pool) as conn:
        rows = await fetch_all(
            conn, "SELECT id FROM orders WHERE order_no = %(n)s", {"n": order_no}
        )
        refund = await request_refund(
            conn,
            order_id=rows[0][0],
            amount_cents=amount,
            reason=reason,
            idempotency_key=key,
            actor=Actor.OPERATOR,
            now=clock.now(),
        )
    return refund.id


async def refund_due_now(pool: Any, refund_id: int) -> None:
    """As if the refund's back-off had passed: due now, its job deferred."""
    async with transaction(pool) as conn:
        await conn.execute(
            "UPDATE refunds SET next_attempt_at = %(now)s WHERE id = %(i)s",
            {"now": clock.now(), "i": refund_id},
        )
        await defer(conn, JobName.EXECUTE_REFUND, refund_id=refund_id)
