"""Wrong-password counters never starve the request pool.

A detail request holds one pooled connection while the throttle counts the
wrong password in a transaction of its own. With both on one pool, as many
concurrent wrong passwords as the pool has connections each waited for a
connection none gave back, until the pool's timeout turned them into 503s.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx

from kameng.config import Settings
from tests.factories import Sessions, create_product, place_order
from tests.support.live import live_settings, serve

CONCURRENT = 12


async def test_concurrent_wrong_passwords_on_a_small_pool_all_get_an_answer(
    db: Sessions, settings: Settings
) -> None:
    await create_product(db)
    shop = live_settings(settings).model_copy(update={"db_pool_size": 2})
    with serve(shop) as base:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            order = await place_order(client, query_password="right-pass")
            url = f"/api/shop/orders/{order['order_no']}"
            async with httpx.AsyncClient(base_url=base, timeout=60) as stranger:
                answers = await asyncio.gather(
                    *(
                        stranger.get(url, headers={"X-Query-Password": f"wrong-{i}"})
                        for i in range(CONCURRENT)
                    )
                )
    statuses = Counter(a.status_code for a in answers)
    # Ten wrong passwords are counted and refused (403); the rest find the order locked (429).
    assert set(statuses) <= {403, 429}, statuses
    assert sum(statuses.values()) == CONCURRENT
    assert statuses[403] >= 1
