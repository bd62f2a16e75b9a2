"""Unpaid orders expire on the worker; a payment that comes later is still honoured."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from kameng.config import Settings
from kameng.kit.clock import FrozenClock
from tests.factories import Sessions, make_stocked_product, place_order, signed_notify


@dataclass
class Shop:
    client: httpx.AsyncClient
    db: Sessions
    clock: FrozenClock
    run_jobs: Any
    settings: Settings

    async def unpaid_order(self, keys: int) -> str:
        """A ¥10.00 order for a product with ``keys`` keys in stock; its number."""
        await make_stocked_product(self.db, self.settings, keys)
        return str((await place_order(self.client))["order_no"])

    async def run_expiry(self) -> None:
        from kameng.orders.tasks import expire_unpaid

        await expire_unpaid.defer_async(timestamp=0)
        await self.run_jobs()

    async def status_of(self, order_no: str) -> str:
        async with self.db() as s:
            return str(
                (
                    await s.execute(
                        text("SELECT status FROM orders WHERE order_no = :n"), {"n": order_no}
                    )
                ).scalar_one()
            )

    async def notify_paid(self, order_no: str) -> httpx.Response:
        """The gateway's notify: ¥10.00 paid for ``order_no``."""
        return await self.client.get(
            "/notify/epay", params=signed_notify(self.settings, order_no, 1000)
        )


@pytest.fixture
def shop(
    client: httpx.AsyncClient,
    db: Sessions,
    clock: FrozenClock,
    run_jobs: Any,
    settings: Settings,
) -> Shop:
    return Shop(client, db, clock, run_jobs, settings)


class TestExpiry:
    async def test_expires_only_after_the_deadline(self, shop: Shop) -> None:
        order_no = await shop.unpaid_order(keys=0)
        shop.clock.advance(seconds=shop.settings.unpaid_ttl_seconds - 1)
        await shop.run_expiry()
        assert await shop.status_of(order_no) == "unpaid"
        shop.clock.advance(seconds=1)
        await shop.run_expiry()
        assert await shop.status_of(order_no) == "expired"
        body = (await shop.client.get(f"/api/shop/orders/{order_no}")).json()
        assert [e["type"] for e in body["timeline"]] == ["created", "expired"]
        why = body["explanation"]
        assert "已过期" in why["text"] and "自动恢复" in why["text"]
        assert why["cause"] == "not_paid"
        assert [a["kind"] for a in why["actions"]] == ["contact_support"]

    async def test_paid_orders_never_expire(self, shop: Shop) -> None:
        order_no = await shop.unpaid_order(keys=1)
        await shop.notify_paid(order_no)
        shop.clock.advance(days=2)
        await shop.run_expiry()
        assert await shop.status_of(order_no) == "delivered"

    async def test_late_notify_revives_and_delivers(self, shop: Shop) -> None:
        order_no = await shop.unpaid_order(keys=1)
        shop.clock.advance(hours=3)
        await shop.run_expiry()
        assert await shop.status_of(order_no) == "expired"
        response = await shop.notify_paid(order_no)
        assert response.text == "success"
        body = (await shop.client.get(f"/api/shop/orders/{order_no}")).json()
        assert body["status"] == "delivered"
        assert [e["type"] for e in body["timeline"]] == ["created", "expired", "paid", "delivered"]
        assert len(body["goods"]) == 1

    async def test_late_notify_without_stock_waits_for_stock(self, shop: Shop) -> None:
        order_no = await shop.unpaid_order(keys=0)
        shop.clock.advance(hours=3)
        await shop.run_expiry()
        await shop.notify_paid(order_no)
        assert await shop.status_of(order_no) == "awaiting_stock"
