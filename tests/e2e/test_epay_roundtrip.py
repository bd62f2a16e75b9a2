"""The whole money path over the real epay V1 wire format: the buyer follows the
shop's pay link to the sandbox cashier, presses pay, the sandbox signs and sends
its notify to the shop, and the order page shows the keys."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from kameng.config import Settings
from kameng.sandbox.epay import create_app as create_sandbox
from kameng.web.app import create_app
from tests.factories import Sessions, make_product, make_stocked_product, place_order
from tests.support import wait_for


@pytest.fixture
async def wired(
    db: Sessions, settings: Settings, pool: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient, Any]]:
    shop = create_app(settings, pool=pool)
    shop_transport = httpx.ASGITransport(
        app=shop, client=("127.0.0.1", 40001), raise_app_exceptions=False
    )
    sandbox = create_sandbox(
        merchants={settings.epay_pid: settings.epay_key},
        time_scale=0.0001,
        http_transport=shop_transport,
    )
    buyer_shop = httpx.AsyncClient(transport=shop_transport, base_url="http://shop.test")
    buyer_epay = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox), base_url="http://epay.sandbox.test"
    )
    yield buyer_shop, buyer_epay, sandbox
    await sandbox.state.epay.aclose()
    await buyer_shop.aclose()
    await buyer_epay.aclose()


async def test_pay_through_the_sandbox_delivers(
    wired: Any, db: Sessions, settings: Settings
) -> None:
    shop, epay, _sandbox = wired
    keys = (await make_stocked_product(db, settings, 2, price_cents=1050)).keys
    order = await place_order(shop, quantity=1)

    cashier = await epay.get(order["pay_url"].removeprefix("http://epay.sandbox.test"))
    assert cashier.status_code == 200 and "确认支付" in cashier.text and "10.50" in cashier.text
    trade_no = re.search(r'action="[^"]*/pay/(\d+)"', cashier.text)
    assert trade_no is not None
    paid = await epay.post(f"/pay/{trade_no.group(1)}")
    assert paid.status_code == 302
    assert paid.headers["location"].startswith(
        f"{settings.public_url}/o/{order['order_no']}/return?"
    )

    async def delivered() -> bool:
        body = (await shop.get(f"/api/shop/orders/{order['order_no']}")).json()
        return bool(body["status"] == "delivered")

    await wait_for(delivered)
    body = (await shop.get(f"/api/shop/orders/{order['order_no']}")).json()
    assert [(g["number"], g["password"]) for g in body["goods"]] == keys[:1]

    trade = (await epay.get(f"/sandbox/trades/{trade_no.group(1)}")).json()
    assert trade["notify"] == 1 and len(trade["notify_attempts"]) == 1
    looked_up = (await shop.get("/api/shop/lookup", params={"q": trade_no.group(1)})).json()
    assert looked_up["kind"] == "trade_no" and looked_up["order"]["order_no"] == order["order_no"]


async def test_gateway_query_agrees(wired: Any, db: Sessions, settings: Settings) -> None:
    """api.php?act=order, the 主动查单 call, reports the same trade."""
    shop, epay, _sandbox = wired
    await make_product(db)
    order = await place_order(shop)
    await epay.get(order["pay_url"].removeprefix("http://epay.sandbox.test"))
    answer = (
        await epay.get(
            "/api.php",
            params={
                "act": "order",
                "pid": settings.epay_pid,
                "key": settings.epay_key,
                "out_trade_no": order["order_no"],
            },
        )
    ).json()
    assert (answer["code"], answer["status"], answer["money"]) == (1, 0, "10.00")
