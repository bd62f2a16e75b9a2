"""Unpaid orders expire on the worker; a payment that comes later is still honoured."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import text

from kameng.config import Settings
from kameng.kit.clock import FrozenClock
from tests.factories import Sessions, make_stocked_product, place_order, signed_notify


async def status_of(db: Sessions, order_no: str) -> str:
    async with db() as s:
        return str(
            (
                await s.execute(
                    text("SELECT status FROM orders WHERE order_no = :n"), {"n": order_no}
                )
            ).scalar_one()
        )


async def run_expiry(run_jobs: Any) -> None:
    from kameng.orders.tasks import expire_unpaid

    await expire_unpaid.defer_async(timestamp=0)
    await run_jobs()


def unpaid_order_factory(client: httpx.AsyncClient, db: Sessions, settings: Settings) -> Any:
    async def make(keys: int) -> str:
        await make_stocked_product(db, settings, keys)
        return str((await place_order(client))["order_no"])

    return make


class TestExpiry:
    async def test_expires_only_after_the_deadline(
        self,
        client: httpx.AsyncClient,
        db: Sessions,
        clock: FrozenClock,
        run_jobs: Any,
        settings: Settings,
    ) -> None:
        new_order = unpaid_order_factory(client, db, settings)
        order = {"order_no": await new_order(keys=0)}
        clock.advance(seconds=settings.unpaid_ttl_seconds - 1)
        await run_expiry(run_jobs)
        assert await status_of(db, order["order_no"]) == "unpaid"
        clock.advance(seconds=1)
        await run_expiry(run_jobs)
        assert await status_of(db, order["order_no"]) == "expired"
        body = (await client.get(f"/api/shop/orders/{order['order_no']}")).json()
        assert [e["type"] for e in body["timeline"]] == ["created", "expired"]
        why = body["explanation"]
        assert "已过期" in why["text"] and "自动恢复" in why["text"]
        assert why["cause"] == "not_paid"
        assert [a["kind"] for a in why["actions"]] == ["contact_support"]

    async def test_paid_orders_never_expire(
        self,
        client: httpx.AsyncClient,
        db: Sessions,
        clock: FrozenClock,
        run_jobs: Any,
        settings: Settings,
    ) -> None:
        new_order = unpaid_order_factory(client, db, settings)
        order = {"order_no": await new_order(keys=1)}
        await client.get("/notify/epay", params=signed_notify(settings, order["order_no"], 1000))
        clock.advance(days=2)
        await run_expiry(run_jobs)
        assert await status_of(db, order["order_no"]) == "delivered"

    async def test_late_notify_revives_and_delivers(
        self,
        client: httpx.AsyncClient,
        db: Sessions,
        clock: FrozenClock,
        run_jobs: Any,
        settings: Settings,
    ) -> None:
        new_order = unpaid_order_factory(client, db, settings)
        order = {"order_no": await new_order(keys=1)}
        clock.advance(hours=3)
        await run_expiry(run_jobs)
        assert await status_of(db, order["order_no"]) == "expired"
        response = await client.get(
            "/notify/epay", params=signed_notify(settings, order["order_no"], 1000)
        )
        assert response.text == "success"
        body = (await client.get(f"/api/shop/orders/{order['order_no']}")).json()
        assert body["status"] == "delivered"
        assert [e["type"] for e in body["timeline"]] == ["created", "expired", "paid", "delivered"]
        assert len(body["goods"]) == 1

    async def test_late_notify_without_stock_waits_for_stock(
        self,
        client: httpx.AsyncClient,
        db: Sessions,
        clock: FrozenClock,
        run_jobs: Any,
        settings: Settings,
    ) -> None:
        new_order = unpaid_order_factory(client, db, settings)
        order = {"order_no": await new_order(keys=0)}
        clock.advance(hours=3)
        await run_expiry(run_jobs)
        await client.get("/notify/epay", params=signed_notify(settings, order["order_no"], 1000))
        assert await status_of(db, order["order_no"]) == "awaiting_stock"
