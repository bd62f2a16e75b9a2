"""The product list is read once per ``catalog_cache_seconds`` per process."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from kameng.config import Settings
from kameng.kit.snapshot import Snapshot
from kameng.web.app import create_app
from tests.factories import add_keys, create_product


async def test_concurrent_readers_of_a_stale_snapshot_share_one_load() -> None:
    loads = 0
    release = asyncio.Event()

    async def load() -> int:
        nonlocal loads
        loads += 1
        await release.wait()
        return loads

    snapshot = Snapshot(load, ttl=3600)
    readers = [asyncio.create_task(snapshot.get()) for _ in range(20)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*readers) == [1] * 20
    assert loads == 1
    snapshot.invalidate()
    assert await snapshot.get() == 2


async def test_snapshot_with_no_ttl_loads_every_time() -> None:
    count = 0

    async def load() -> int:
        nonlocal count
        count += 1
        return count

    snapshot = Snapshot(load, ttl=0)
    assert [await snapshot.get() for _ in range(3)] == [1, 2, 3]


async def test_list_serves_the_cached_stock_until_it_is_reread(
    db: Any, settings: Settings, pool: Any
) -> None:
    product_id = await create_product(db)
    await add_keys(db, settings, product_id, 3)
    app = create_app(settings.model_copy(update={"catalog_cache_seconds": 3600}), pool=pool)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as client:
        first = (await client.get("/api/shop/products")).json()
        await add_keys(db, settings, product_id, 2, prefix="MORE")
        cached = (await client.get("/api/shop/products")).json()
        app.state.runtime.catalogue.invalidate()
        fresh = (await client.get("/api/shop/products")).json()
    assert [p["in_stock"] for p in first] == [3]
    assert [p["in_stock"] for p in cached] == [3]
    assert [p["in_stock"] for p in fresh] == [5]
    assert first[0] == {**fresh[0], "in_stock": 3}
