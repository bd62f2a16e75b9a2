"""The supply engine against the supplier sandbox over real sockets.

The sandbox (``kameng.sandbox.supplier``) runs in a uvicorn thread; the shop
runs live too (``live_shop``), so the sandbox's callbacks reach
``/notify/supplier/{code}`` over HTTP. Orders are paid through the real
notify service; ``drive`` then runs the engine's steps for one order as the
worker's job would, sleeping for the waits it asks for (all scaled down).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from psycopg_pool import AsyncConnectionPool

from kameng.catalog import repository as catalog
from kameng.config import Settings
from kameng.db.connection import Conn, fetch_all, transaction
from kameng.fulfilment.supply import admin, engine
from kameng.fulfilment.supply.config import SupplyConfig
from kameng.fulfilment.supply.signed_http import SignedHttpAdapter
from kameng.kit import clock
from kameng.kit.passwords import QueryPasswords
from kameng.models.vocabulary import OrderStatus, ProductKind
from kameng.orders import repository as orders_repo
from kameng.orders import service as orders
from kameng.orders.repository import OrderRow
from kameng.orders.states import FINAL
from kameng.sandbox.supplier import create_app
from kameng.sandbox.supplier_store import SupplierStore
from tests.factories import pay
from tests.support.live import free_port

MERCHANTS = {"m-a": "key-a-0123456789abcdef", "m-b": "key-b-0123456789abcdef"}
PHONE = {
    "name": "phone",
    "label_zh": "手机号",
    "label_en": "Phone number",
    "pattern": "1[3-9][0-9]{9}",
    "example": "13800138000",
}
SCALE = 0.01


@dataclass
class Sandbox:
    url: str
    store: SupplierStore

    def behave(
        self,
        behaviour: str,
        *,
        product: str | None = None,
        order: str | None = None,
        seconds: float = 0,
        price: str | None = None,
    ) -> None:
        body: dict[str, Any] = {"behaviour": behaviour, "seconds": seconds}
        if product:
            body["product"] = product
        if order:
            body["order"] = order
        if price:
            body["price"] = price
        response = httpx.post(f"{self.url}/sandbox/behaviour", json=body)
        assert response.status_code == 200, response.text

    def orders(self) -> dict[str, Any]:
        return dict(httpx.get(f"{self.url}/sandbox/orders").json())

    def placed(self, order_no: str) -> int:
        return int(self.orders()["placed"].get(order_no, 0))

    def received(self, order_no: str) -> list[dict[str, Any]]:
        return [o for o in self.orders()["orders"] if o["out_order_no"] == order_no]


@contextmanager
def serve_sandbox(directory: Path, time_scale: float = SCALE) -> Iterator[Sandbox]:
    store = SupplierStore(directory / "orders.json", dict(MERCHANTS))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(store, time_scale=time_scale), host="127.0.0.1", port=port,
                       log_level="warning", lifespan="on")
    )  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True, name=f"supplier-{port}")
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "sandbox did not start"
        time.sleep(0.02)
    try:
        yield Sandbox(f"http://127.0.0.1:{port}", store)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def supply_config(settings: Settings, *, timeout: float = 0.5, **extra: Any) -> SupplyConfig:
    options: dict[str, Any] = {"not_found_grace_seconds": 30.0, **extra}
    return SupplyConfig(
        adapter=SignedHttpAdapter(timeout=timeout),
        cipher=settings.card_key_cipher(),
        public_url=settings.public_url,
        time_scale=SCALE,
        **options,
    )


async def setup_suppliers(
    pool: AsyncConnectionPool[Conn],
    cfg: SupplyConfig,
    sandbox_url: str,
    *,
    sku: str = "TOPUP-10",
    kind: ProductKind = ProductKind.TOPUP,
    a_code: str | None = "a-ok",
    b_code: str | None = "b-ok",
    fields: list[dict[str, str]] | None = None,
    sla_seconds: int = 600,
    refund_after_seconds: int = 3600,
) -> None:
    """Product ``sku``; supplier A (m-a) tried first, B (m-b) second when ``b_code``."""
    async with transaction(pool) as conn:
        product = await catalog.insert_product(
            conn, sku=sku, name="话费 10 元", kind=kind, price_cents=1000, max_quantity=5,
            description="", now=clock.now(),
        )  # fmt: skip
        await catalog.set_supply_terms(
            conn, product.id,
            buyer_fields=[PHONE] if fields is None and kind == ProductKind.TOPUP else fields or [],
            sla_seconds=sla_seconds, refund_after_seconds=refund_after_seconds,
        )  # fmt: skip
        for code, merchant, their, priority in (
            ("A", "m-a", a_code, 10),  # None: not linked
            ("B", "m-b", b_code, 20),
        ):
            if their is None:
                continue
            if await _supplier_missing(conn, code):
                await admin.add(
                    conn, cfg, code=code, name=f"供应商{code}", base_url=sandbox_url,
                    merchant_id=merchant, secret=MERCHANTS[merchant], priority=priority,
                    now=clock.now(),
                )  # fmt: skip
            await admin.link(conn, code=code, sku=sku, supplier_sku=their, cost_cents=950,
                             priority=priority)  # fmt: skip


async def _supplier_missing(conn: Conn, code: str) -> bool:
    from kameng.fulfilment.supply.repository import supplier_by_code

    return await supplier_by_code(conn, code) is None


async def unpaid_topup(
    pool: AsyncConnectionPool[Conn],
    *,
    sku: str = "TOPUP-10",
    fields: dict[str, str] | None = None,
    quantity: int = 1,
) -> OrderRow:
    async with transaction(pool) as conn:
        return await orders.create_order(
            conn, sku=sku, quantity=quantity, contact=None, query_password=None,
            passwords=QueryPasswords(b"t" * 32), gateway="epay", known_gateways=["epay"],
            ttl=timedelta(minutes=15), now=clock.now(),
            fields=fields if fields is not None else {"phone": "13800138000"},
        )  # fmt: skip


async def pay_order(
    pool: AsyncConnectionPool[Conn], settings: Settings, order: OrderRow
) -> OrderRow:
    outcome = await pay(pool, settings, order)
    assert outcome.verdict == "accepted", outcome
    return await current(pool, order.order_no)


async def paid_topup(
    pool: AsyncConnectionPool[Conn],
    settings: Settings,
    *,
    sku: str = "TOPUP-10",
    fields: dict[str, str] | None = None,
    quantity: int = 1,
) -> OrderRow:
    order = await unpaid_topup(pool, sku=sku, fields=fields, quantity=quantity)
    return await pay_order(pool, settings, order)


async def current(pool: AsyncConnectionPool[Conn], order_no: str) -> OrderRow:
    async with transaction(pool) as conn:
        order = await orders_repo.get_by_number(conn, order_no)
    assert order is not None
    return order


async def drive(
    pool: AsyncConnectionPool[Conn], cfg: SupplyConfig, order: OrderRow, *,
    seconds: float = 20.0, until: frozenset[OrderStatus] = FINAL,
) -> OrderRow:  # fmt: skip
    """Run the engine for the order (as the worker's job does) until its status is in ``until``."""
    deadline = time.monotonic() + seconds
    while True:
        now = await current(pool, order.order_no)
        if now.status in until:
            return now
        if time.monotonic() >= deadline:
            async with transaction(pool) as conn:
                rows = await fetch_all(
                    conn,
                    "SELECT status, checks, next_check_at, result, error, now() "
                    "FROM supply_attempts WHERE order_id = %(o)s",
                    {"o": order.id},
                )
            raise AssertionError(f"order still {now.status}; attempts {rows}")
        wait = await engine.step(pool, cfg, order.id)
        await asyncio.sleep(min(wait if wait else 0.02, 0.1))


async def event_types(pool: AsyncConnectionPool[Conn], order: OrderRow) -> list[str]:
    async with transaction(pool) as conn:
        return [e.type for e in await orders_repo.events_of(conn, order.id)]


async def attempts(pool: AsyncConnectionPool[Conn], order: OrderRow) -> list[tuple[str, str, bool]]:
    """(supplier code, status, refused) of each attempt, in order."""
    async with transaction(pool) as conn:
        rows = await fetch_all(
            conn,
            "SELECT s.code, a.status, a.refused FROM supply_attempts a "
            "JOIN suppliers s ON s.id = a.supplier_id WHERE a.order_id = %(o)s ORDER BY a.id",
            {"o": order.id},
        )
    return [(str(c), str(s), bool(r)) for c, s, r in rows]
