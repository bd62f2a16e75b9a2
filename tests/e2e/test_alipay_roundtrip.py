"""An order paid end to end through the Alipay sandbox over Alipay's wire format:
page pay link signed by the shop (python-alipay-sdk), cashier, form-POST notify
signed with the sandbox's platform key, and alipay.trade.query for a lost notify."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from kameng.config import Settings
from kameng.sandbox.alipay import create_app as create_sandbox
from kameng.sandbox.persist import JsonFile
from tests.e2e.wiring import (
    check_return_url_asks_at_once,
    notify_log,
    order_status,
    shop_and_sandbox,
    trade_after_restart,
    wait_delivered,
    wait_for,
)
from tests.factories import Sessions, add_keys, count, create_product, notify_verdicts, place_order
from tests.rsa_keys import keypair

APP_ID = "2021000000000001"
SELLER_ID = "2088000000000001"
SANDBOX = "http://alipay.sandbox.test"


def alipay_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "alipay_app_id": APP_ID,
            "alipay_gateway_url": f"{SANDBOX}/gateway.do",
            "alipay_app_private_key_file": keypair("alipay_app").private_path,
            "alipay_public_key_file": keypair("alipay_platform").public_path,
            "alipay_seller_id": SELLER_ID,
        }
    )


@dataclass
class Wired:
    shop: httpx.AsyncClient
    alipay: httpx.AsyncClient
    sandbox: Any
    settings: Settings


@pytest.fixture
async def wired(
    db: Sessions,
    settings: Settings,
    pool: Any,
    tmp_path: Path,
    worker_runtime: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Wired]:
    shop_settings = alipay_settings(settings)
    async with shop_and_sandbox(
        shop_settings,
        pool,
        worker_runtime,
        monkeypatch,
        client_port=40002,
        sandbox_url=SANDBOX,
        make_sandbox=lambda shop_transport: create_sandbox(
            app_id=APP_ID,
            app_public_pem=keypair("alipay_app").public_pem(),
            alipay_private_pem=keypair("alipay_platform").private_pem(),
            seller_id=SELLER_ID,
            time_scale=0.00001,
            state_file=JsonFile(tmp_path / "alipay.json"),
            http_transport=shop_transport,
        ),
    ) as (buyer_shop, buyer, sandbox):
        yield Wired(buyer_shop, buyer, sandbox, shop_settings)


async def open_cashier(w: Wired, order: dict[str, Any]) -> str:
    assert order["pay_url"].startswith(f"{SANDBOX}/gateway.do?")
    cashier = await w.alipay.get(order["pay_url"].removeprefix(SANDBOX))
    assert cashier.status_code == 200, cashier.text
    assert "确认付款" in cashier.text and "10.50" in cashier.text
    found = re.search(r'action="/sandbox/pay/(\d{28})"', cashier.text)
    assert found is not None
    return found.group(1)


async def test_pay_through_the_alipay_sandbox_delivers(
    wired: Wired, db: Sessions, settings: Settings
) -> None:
    w = wired
    product_id = await create_product(db, price_cents=1050)
    keys = await add_keys(db, settings, product_id, 2)
    order = await place_order(w.shop, gateway="alipay")
    trade_no = await open_cashier(w, order)

    paid = await w.alipay.post(f"/sandbox/pay/{trade_no}", data={"outcome": "notify"})
    assert paid.status_code == 302
    assert paid.headers["location"].startswith(
        f"{settings.public_url}/o/{order['order_no']}/return?"
    )

    await wait_delivered(w.shop, order["order_no"])
    body = await order_status(w.shop, order["order_no"])
    assert [(g["number"], g["password"]) for g in body["goods"]] == keys[:1]
    trade = (await w.alipay.get(f"/sandbox/trades/{trade_no}")).json()
    assert trade["notify_state"] == "acked"
    assert [a["body"] for a in trade["notify_attempts"]] == ["success"]
    assert await count(db, "SELECT count(*) FROM payments WHERE gateway = 'alipay'") == 1


async def test_notify_twice_pays_once(wired: Wired, db: Sessions, settings: Settings) -> None:
    w = wired
    await add_keys(db, settings, await create_product(db, price_cents=1050), 2)
    order = await place_order(w.shop, gateway="alipay")
    trade_no = await open_cashier(w, order)
    await w.alipay.post(f"/sandbox/trades/{trade_no}/pay", data={"outcome": "twice"})

    async def two_acks() -> bool:
        trade = (await w.alipay.get(f"/sandbox/trades/{trade_no}")).json()
        return sum(a["acked"] for a in trade["notify_attempts"]) == 2

    await wait_for(two_acks)
    assert await notify_verdicts(db) == ["accepted", "duplicate"]
    assert await count(db, "SELECT count(*) FROM card_keys WHERE status = 'sold'") == 1


async def test_wrong_amount_is_refused_on_every_retry(
    wired: Wired, db: Sessions, settings: Settings
) -> None:
    w = wired
    await add_keys(db, settings, await create_product(db, price_cents=1050), 1)
    order = await place_order(w.shop, gateway="alipay")
    trade_no = await open_cashier(w, order)
    await w.alipay.post(f"/sandbox/trades/{trade_no}/pay", data={"outcome": "wrong_amount"})

    async def gave_up() -> bool:
        trade = (await w.alipay.get(f"/sandbox/trades/{trade_no}")).json()
        return bool(trade["notify_state"] == "gave_up")

    await wait_for(gave_up)
    trade = (await w.alipay.get(f"/sandbox/trades/{trade_no}")).json()
    assert [a["body"] for a in trade["notify_attempts"]] == ["fail"] * 8
    assert (await order_status(w.shop, order["order_no"]))["status"] == "unpaid"
    assert await count(db, "SELECT count(*) FROM payments") == 0
    assert (
        await count(db, "SELECT count(*) FROM payment_notifies WHERE verdict = 'amount_mismatch'")
        == 8
    )


async def test_silent_payment_is_found_by_the_active_query(
    wired: Wired, db: Sessions, settings: Settings, run_jobs: Any, clock: Any
) -> None:
    from kameng.payments.active_query.tasks import query_pending

    w = wired
    await add_keys(db, settings, await create_product(db, price_cents=1050), 1)
    order = await place_order(w.shop, gateway="alipay")
    trade_no = await open_cashier(w, order)
    assert (await w.shop.get(f"/o/{order['order_no']}")).status_code == 200  # schedule starts
    await w.alipay.post(f"/sandbox/trades/{trade_no}/pay", data={"outcome": "silent"})
    clock.advance(seconds=15)  # the first step
    await query_pending.defer_async(timestamp=0)
    await run_jobs()
    body = await order_status(w.shop, order["order_no"])
    assert body["status"] == "delivered"
    assert await notify_log(db) == [("QUERY", "accepted", trade_no)]


async def test_silent_payment_found_though_no_page_of_ours_was_opened(
    wired: Wired, db: Sessions, settings: Settings, run_jobs: Any, clock: Any
) -> None:
    """An API client sends the buyer straight to the Alipay link it was given;
    the buyer pays (the notify never comes) and never comes back: handing out
    the link started the schedule, and the minute sweep finds the payment."""
    from kameng.payments.active_query.tasks import query_pending

    w = wired
    await add_keys(db, settings, await create_product(db, price_cents=1050), 1)
    order = await place_order(w.shop, gateway="alipay")
    trade_no = await open_cashier(w, order)
    paid = await w.alipay.post(f"/sandbox/trades/{trade_no}/pay", data={"outcome": "silent"})
    assert paid.status_code == 200, paid.text
    clock.advance(seconds=60)  # the next minute's sweep
    await query_pending.defer_async(timestamp=0)
    await run_jobs()
    assert await notify_log(db) == [("QUERY", "accepted", trade_no)]
    trade = (await w.alipay.get(f"/sandbox/trades/{trade_no}")).json()
    assert trade["notify_attempts"] == []  # silent: only the query told the shop
    body = await order_status(w.shop, order["order_no"])
    assert body["status"] == "delivered"
    assert await count(db, "SELECT count(*) FROM payments WHERE gateway = 'alipay'") == 1


async def test_return_url_asks_alipay_at_once_and_nothing_is_paid_twice(
    wired: Wired, db: Sessions, settings: Settings, run_jobs: Any, clock: Any
) -> None:
    w = wired
    await check_return_url_asks_at_once(
        shop=w.shop,
        sandbox=w.alipay,
        channel="alipay",
        cashier=partial(open_cashier, w),
        return_query="out_trade_no=x&sign=forged",
        db=db,
        settings=settings,
        run_jobs=run_jobs,
        clock=clock,
    )


async def test_query_before_payment_changes_nothing(
    wired: Wired, db: Sessions, settings: Settings, worker_runtime: Any
) -> None:
    w = wired
    await create_product(db, price_cents=1050)
    order = await place_order(w.shop, gateway="alipay")
    gateway = worker_runtime.gateways.get("alipay")
    assert gateway is not None
    assert await gateway.query(order["order_no"]) is None  # no trade yet: TRADE_NOT_EXIST
    await open_cashier(w, order)
    assert await gateway.query(order["order_no"]) is None  # WAIT_BUYER_PAY


async def test_the_sandbox_keeps_its_trades_across_a_restart(
    wired: Wired, db: Sessions, settings: Settings, tmp_path: Path
) -> None:
    w = wired
    await create_product(db, price_cents=1050)
    order = await place_order(w.shop, gateway="alipay")
    trade_no = await open_cashier(w, order)
    again = create_sandbox(
        app_id=APP_ID,
        app_public_pem=keypair("alipay_app").public_pem(),
        alipay_private_pem=keypair("alipay_platform").private_pem(),
        seller_id=SELLER_ID,
        state_file=JsonFile(tmp_path / "alipay.json"),
    )
    trade = await trade_after_restart(again, SANDBOX, trade_no)
    assert (trade["out_trade_no"], trade["total_amount"], trade["trade_status"]) == (
        order["order_no"],
        "10.50",
        "WAIT_BUYER_PAY",
    )
