"""Paid end to end through the WeChat Pay sandbox: the shop creates the Native
or H5 order over the v3 wire format, the buyer pays at the sandbox cashier, the
sandbox signs and encrypts its notify, the shop verifies it and delivers."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import text

from kameng.config import Settings
from tests.factories import Sessions, add_keys, count, create_product
from tests.support import wait_for
from tests.wechatpay.conftest import DESKTOP, PHONE, SANDBOX, Wired


async def cashier_action(wired: Wired, page_url: str) -> str:
    page = await wired.phone.get(page_url.removeprefix(SANDBOX))
    assert page.status_code == 200 and "微信支付" in page.text, page.text
    found = re.search(r'action="([^"]+)"', page.text)
    assert found is not None
    return found.group(1).replace("&amp;", "&")


async def notifies(db: Sessions) -> list[tuple[str, str]]:
    async with db() as s:
        rows = await s.execute(text("SELECT verdict, trade_no FROM payment_notifies ORDER BY id"))
        return [(r[0], r[1]) for r in rows]


async def test_native_scan_and_pay_delivers(wired: Wired, db: Sessions, settings: Settings) -> None:
    product_id = await create_product(db, price_cents=1050)
    keys = await add_keys(db, settings, product_id, 2)
    order = await wired.order()
    assert order["pay_url"] == f"{settings.public_url}/o/{order['order_no']}/pay"

    page = await wired.shop.get(f"/o/{order['order_no']}/pay", headers=DESKTOP)
    assert page.status_code == 200 and "<svg" in page.text and "10.50" in page.text
    scan = re.search(r'href="(http://wxpay\.sandbox\.test/sandbox/scan\?[^"]+)"', page.text)
    assert scan is not None
    action = await cashier_action(wired, scan.group(1).replace("&amp;", "&"))
    paid = await wired.phone.post(action, data={"outcome": "notify"})
    assert paid.status_code == 200 and "支付成功" in paid.text

    async def delivered() -> bool:
        return bool((await wired.status(order["order_no"]))["status"] == "delivered")

    await wait_for(delivered)
    body = await wired.status(order["order_no"])
    assert [(g["number"], g["password"]) for g in body["goods"]] == keys[:1]
    trade = (await wired.phone.get(f"/sandbox/trades/{order['order_no']}")).json()
    assert trade["trade_state"] == "SUCCESS" and trade["notify_state"] == "acked"
    assert [a["status"] for a in trade["notify_attempts"]] == [204]
    assert await notifies(db) == [("accepted", trade["transaction_id"])]
    async with db() as s:
        payment = (
            await s.execute(text("SELECT gateway, amount_cents, method FROM payments"))
        ).one()
    assert tuple(payment) == ("wechatpay", 1050, "wechat_native")

    # Opening the pay page again: the order is paid, back to the order page.
    again = await wired.shop.get(f"/o/{order['order_no']}/pay", headers=DESKTOP)
    assert again.status_code == 303 and again.headers["location"] == f"/o/{order['order_no']}"


async def test_h5_on_a_phone_returns_to_the_order_page(
    wired: Wired, db: Sessions, settings: Settings
) -> None:
    product_id = await create_product(db)
    await add_keys(db, settings, product_id, 1)
    order = await wired.order()
    start = await wired.shop.get(f"/o/{order['order_no']}/pay", headers=PHONE)
    assert start.status_code == 303
    h5_url = start.headers["location"]
    assert h5_url.startswith(f"{SANDBOX}/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx")
    assert parse_qs(urlsplit(h5_url).query)["redirect_url"] == [
        f"{settings.public_url}/o/{order['order_no']}/return"
    ]
    action = await cashier_action(wired, h5_url)
    paid = await wired.phone.post(action, data={"outcome": "notify"})
    assert paid.status_code == 302
    assert paid.headers["location"] == f"{settings.public_url}/o/{order['order_no']}/return"

    async def delivered() -> bool:
        return bool((await wired.status(order["order_no"]))["status"] == "delivered")

    await wait_for(delivered)
    async with db() as s:
        method = (await s.execute(text("SELECT method FROM payments"))).scalar_one()
    assert method == "wechat_mweb"


async def test_notify_twice_pays_once(wired: Wired, db: Sessions, settings: Settings) -> None:
    product_id = await create_product(db)
    await add_keys(db, settings, product_id, 3)
    order = await wired.order()
    assert (await wired.shop.get(f"/o/{order['order_no']}/pay", headers=DESKTOP)).status_code == 200
    paid = await wired.phone.post(
        f"/sandbox/trades/{order['order_no']}/pay", params={"outcome": "notify_twice"}
    )
    assert paid.status_code == 200

    async def acked() -> bool:
        trade = (await wired.phone.get(f"/sandbox/trades/{order['order_no']}")).json()
        return bool(trade["notify_state"] == "acked")

    await wait_for(acked)
    trade = (await wired.phone.get(f"/sandbox/trades/{order['order_no']}")).json()
    assert [a["status"] for a in trade["notify_attempts"]] == [204, 204]
    assert [v for v, _ in await notifies(db)] == ["accepted", "duplicate"]
    assert await count(db, "SELECT count(*) FROM payments") == 1
    assert await count(db, "SELECT count(*) FROM card_keys WHERE order_id IS NOT NULL") == 1


async def test_wrong_amount_is_refused_and_retried(
    wired: Wired, db: Sessions, settings: Settings
) -> None:
    product_id = await create_product(db)
    await add_keys(db, settings, product_id, 1)
    order = await wired.order()
    assert (await wired.shop.get(f"/o/{order['order_no']}/pay", headers=DESKTOP)).status_code == 200
    wired.notifier.time_scale = 1e-6  # the whole 24 h schedule in ~0.1 s
    await wired.phone.post(
        f"/sandbox/trades/{order['order_no']}/pay", params={"outcome": "wrong_amount"}
    )

    async def gave_up() -> bool:
        trade = (await wired.phone.get(f"/sandbox/trades/{order['order_no']}")).json()
        return bool(trade["notify_state"] == "gave_up")

    await wait_for(gave_up)
    trade = (await wired.phone.get(f"/sandbox/trades/{order['order_no']}")).json()
    # The first attempt and all 15 retries of the schedule, each refused with a 4xx.
    assert [a["status"] for a in trade["notify_attempts"]] == [400] * 16
    assert {v for v, _ in await notifies(db)} == {"amount_mismatch"}
    assert (await wired.status(order["order_no"]))["status"] == "unpaid"
    assert await count(db, "SELECT count(*) FROM payments") == 0


async def test_lost_notify_is_found_by_query(
    wired: Wired, db: Sessions, settings: Settings, run_jobs: Any
) -> None:
    from kameng.kit import clock
    from kameng.kit.clock import FrozenClock

    product_id = await create_product(db)
    keys = await add_keys(db, settings, product_id, 1)
    order = await wired.order()
    assert (await wired.gateway.query(order["order_no"])) is None  # never opened: unknown
    assert (await wired.shop.get(f"/o/{order['order_no']}/pay", headers=DESKTOP)).status_code == 200
    assert (await wired.gateway.query(order["order_no"])) is None  # NOTPAY
    await wired.phone.post(
        f"/sandbox/trades/{order['order_no']}/pay", params={"outcome": "no_notify"}
    )
    found = await wired.gateway.query(order["order_no"])
    assert found is not None and found.amount_cents == 1000 and found.replay_nonce is None

    from kameng.payments.active_query.tasks import query_pending

    frozen = FrozenClock(clock.now())
    previous = clock.set_clock(frozen)
    try:
        frozen.advance(minutes=2)
        await query_pending.defer_async(timestamp=0)
        await run_jobs()
    finally:
        clock.set_clock(previous)
    body = await wired.status(order["order_no"])
    assert body["status"] == "delivered"
    assert [(g["number"], g["password"]) for g in body["goods"]] == keys
    assert await notifies(db) == [("accepted", found.trade_no)]


async def test_return_url_asks_at_once_and_nothing_is_paid_twice(
    wired: Wired, db: Sessions, settings: Settings, run_jobs: Any
) -> None:
    """H5: WeChat sends the buyer back to redirect_url (our return URL) whatever
    happened; that visit asks the gateway at once, without trusting anything."""
    from kameng.kit import clock
    from kameng.kit.clock import FrozenClock

    await add_keys(db, settings, await create_product(db), 1)
    order = await wired.order()
    start = await wired.shop.get(f"/o/{order['order_no']}/pay", headers=PHONE)
    redirect_url = parse_qs(urlsplit(start.headers["location"]).query)["redirect_url"][0]
    await wired.phone.post(
        f"/sandbox/trades/{order['order_no']}/pay", params={"outcome": "no_notify"}
    )
    frozen = FrozenClock(clock.now() + timedelta(seconds=31))  # past the visit's debounce
    previous = clock.set_clock(frozen)
    try:
        back = await wired.shop.get(redirect_url.removeprefix(settings.public_url))
        assert (back.status_code, back.headers["location"]) == (303, f"/o/{order['order_no']}")
        await run_jobs()
        assert (await wired.status(order["order_no"]))["status"] == "delivered"
        for _ in range(2):  # back again, and the minute sweep: paid, nobody asks
            frozen.advance(minutes=1)
            await wired.shop.get(redirect_url.removeprefix(settings.public_url))
            await run_jobs()
    finally:
        clock.set_clock(previous)
    assert [verdict for verdict, _ in await notifies(db)] == ["accepted"]
    assert await count(db, "SELECT count(*) FROM payments") == 1


async def test_inside_wechat_the_native_qr_is_shown(wired: Wired, db: Sessions) -> None:
    """WeChat refuses H5 pay in its own browser; a long press on the QR pays there."""
    await create_product(db)
    order = await wired.order()
    wechat_browser = {"user-agent": "Mozilla/5.0 (iPhone) Mobile MicroMessenger/8.0.50"}
    page = await wired.shop.get(f"/o/{order['order_no']}/pay", headers=wechat_browser)
    assert page.status_code == 200 and "<svg" in page.text
    trade = (await wired.phone.get(f"/sandbox/trades/{order['order_no']}")).json()
    assert trade["trade_type"] == "NATIVE"


async def test_gateway_down_gives_a_clear_page(wired: Wired, db: Sessions) -> None:
    import httpx

    from kameng.payments.gateways.wechatpay_v3 import WechatPayV3Gateway

    await create_product(db)
    order = await wired.order()

    def down(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="bad gateway")

    down_gateway = WechatPayV3Gateway(
        name="wechatpay",
        api_url=SANDBOX,
        mchid=wired.identity.mchid,
        appid=wired.identity.appid,
        merchant_serial_no=wired.identity.merchant_serial_no,
        private_key_pem=wired.identity.merchant_key_file.read_text(),
        apiv3_key=wired.identity.apiv3_key,
        platform_public_key_pem=wired.identity.platform_public_key_file.read_text(),
        platform_public_key_id=wired.identity.public_key_id,
        transport=httpx.MockTransport(down),
    )
    wired.shop_app.state.runtime.gateways._by_name["wechatpay"] = down_gateway
    page = await wired.shop.get(f"/o/{order['order_no']}/pay", headers=DESKTOP)
    assert page.status_code == 503 and "暂时无法连接微信支付" in page.text
    assert (await wired.status(order["order_no"]))["status"] == "unpaid"


async def test_back_on_the_pay_page_after_paying_goes_to_the_order_not_an_error(
    wired: Wired, db: Sessions
) -> None:
    """The buyer paid at WeChat and pressed Back before the notify arrived: the
    shop still says unpaid, WeChat answers ORDERPAID; that is no "cannot reach
    WeChat Pay, nothing was charged" page but the return URL, which asks at once."""
    await create_product(db)
    order = await wired.order()
    first = await wired.shop.get(f"/o/{order['order_no']}/pay", headers=DESKTOP)
    assert first.status_code == 200 and "<svg" in first.text
    await wired.phone.post(
        f"/sandbox/trades/{order['order_no']}/pay", params={"outcome": "no_notify"}
    )
    assert (await wired.status(order["order_no"]))["status"] == "unpaid"
    for headers in (DESKTOP, PHONE):
        again = await wired.shop.get(f"/o/{order['order_no']}/pay", headers=headers)
        assert (again.status_code, again.headers["location"]) == (
            303,
            f"/o/{order['order_no']}/return",
        )
    assert await count(db, "SELECT count(*) FROM payments") == 0  # only the notify or query pays
