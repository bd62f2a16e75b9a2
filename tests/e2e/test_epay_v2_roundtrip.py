"""An order paid end to end through the 易支付 V2 (RSA) sandbox: the shop's
/o/{no}/pay signs a fresh submit link, the cashier pays, the sandbox's RSA-signed
GET notify delivers; api/pay/query finds a payment whose notify never came."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from kameng.config import Settings
from kameng.sandbox.epay_v2 import create_app as create_sandbox
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
from tests.factories import Sessions, add_keys, count, create_product, place_order
from tests.rsa_keys import keypair

PID = "1002"
SANDBOX = "http://epay-v2.sandbox.test"


def epay_v2_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "epay_v2_url": f"{SANDBOX}/",
            "epay_v2_pid": PID,
            "epay_v2_merchant_private_key_file": keypair("epay_v2_merchant").private_path,
            "epay_v2_platform_public_key_file": keypair("epay_v2_platform").public_path,
        }
    )


def sandbox_app(**extra: Any) -> Any:
    return create_sandbox(
        merchants={PID: keypair("epay_v2_merchant").public_pem()},
        platform_private_pem=keypair("epay_v2_platform").private_pem(),
        **extra,
    )


@dataclass
class Wired:
    shop: httpx.AsyncClient
    epay: httpx.AsyncClient


@pytest.fixture
async def wired(
    db: Sessions,
    settings: Settings,
    pool: Any,
    tmp_path: Path,
    worker_runtime: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Wired]:
    async with shop_and_sandbox(
        epay_v2_settings(settings),
        pool,
        worker_runtime,
        monkeypatch,
        client_port=40004,
        sandbox_url=SANDBOX,
        make_sandbox=lambda shop_transport: sandbox_app(
            time_scale=0.00001,
            state_file=JsonFile(tmp_path / "epay_v2.json"),
            http_transport=shop_transport,
        ),
    ) as (buyer_shop, buyer, _):
        yield Wired(buyer_shop, buyer)


async def open_cashier(w: Wired, order: dict[str, Any]) -> str:
    start = await w.shop.get(order["pay_url"].removeprefix("http://127.0.0.1:8000"))
    assert start.status_code == 303, start.text
    link = start.headers["location"]
    assert link.startswith(f"{SANDBOX}/api/pay/submit?") and "sign_type=RSA" in link
    cashier = await w.epay.get(link.removeprefix(SANDBOX))
    assert cashier.status_code == 200, cashier.text
    found = re.search(r'action="/sandbox/pay/(\d+)"', cashier.text)
    assert found is not None
    return found.group(1)


async def test_pay_through_the_epay_v2_sandbox_delivers(
    wired: Wired, db: Sessions, settings: Settings
) -> None:
    w = wired
    keys = await add_keys(db, settings, await create_product(db, price_cents=1050), 2)
    order = await place_order(w.shop, gateway="epay_v2")
    assert order["pay_url"].endswith(f"/o/{order['order_no']}/pay")
    trade_no = await open_cashier(w, order)
    paid = await w.epay.post(f"/sandbox/pay/{trade_no}", data={"outcome": "notify"})
    assert paid.status_code == 302

    await wait_delivered(w.shop, order["order_no"])
    body = await order_status(w.shop, order["order_no"])
    assert [(g["number"], g["password"]) for g in body["goods"]] == keys[:1]
    trade = (await w.epay.get(f"/sandbox/trades/{trade_no}")).json()
    assert trade["notify_state"] == "acked" and len(trade["notify_attempts"]) == 1
    assert await count(db, "SELECT count(*) FROM payments WHERE gateway = 'epay_v2'") == 1


async def test_twice_and_wrong_amount(wired: Wired, db: Sessions, settings: Settings) -> None:
    w = wired
    await add_keys(db, settings, await create_product(db, price_cents=1050), 2)
    twice = await place_order(w.shop, gateway="epay_v2")
    wrong = await place_order(w.shop, gateway="epay_v2")
    twice_no, wrong_no = await open_cashier(w, twice), await open_cashier(w, wrong)
    await w.epay.post(f"/sandbox/trades/{twice_no}/pay", data={"outcome": "twice"})
    await w.epay.post(f"/sandbox/trades/{wrong_no}/pay", data={"outcome": "wrong_amount"})

    async def settled() -> bool:
        a = (await w.epay.get(f"/sandbox/trades/{twice_no}")).json()
        b = (await w.epay.get(f"/sandbox/trades/{wrong_no}")).json()
        acks = sum(x["acked"] for x in a["notify_attempts"])
        return acks == 2 and b["notify_state"] == "gave_up"

    await wait_for(settled)
    async with db() as s:
        rows = (
            await s.execute(text("SELECT out_trade_no, verdict FROM payment_notifies ORDER BY id"))
        ).all()
    by_order: dict[str, list[str]] = {}
    for out_trade_no, verdict in rows:
        by_order.setdefault(out_trade_no, []).append(verdict)
    assert by_order[twice["order_no"]] == ["accepted", "duplicate"]
    assert by_order[wrong["order_no"]] == ["amount_mismatch"] * 5  # 0, +1, +3, +19, +55 min
    assert await count(db, "SELECT count(*) FROM payments") == 1


async def test_silent_payment_is_found_by_the_signed_query(
    wired: Wired,
    db: Sessions,
    settings: Settings,
    run_jobs: Any,
    clock: Any,
    worker_runtime: Any,
) -> None:
    from kameng.payments.active_query.tasks import query_pending

    w = wired
    await add_keys(db, settings, await create_product(db, price_cents=1050), 1)
    order = await place_order(w.shop, gateway="epay_v2")
    gateway = worker_runtime.gateways.get("epay_v2")
    assert gateway is not None
    assert await gateway.query(order["order_no"]) is None  # not at the gateway yet
    trade_no = await open_cashier(w, order)
    assert await gateway.query(order["order_no"]) is None  # unpaid
    assert (await w.shop.get(f"/o/{order['order_no']}")).status_code == 200  # schedule starts
    await w.epay.post(f"/sandbox/trades/{trade_no}/pay", data={"outcome": "silent"})
    clock.advance(seconds=14)
    await query_pending.defer_async(timestamp=0)
    await run_jobs()
    assert await count(db, "SELECT count(*) FROM payment_notifies") == 0  # not due yet
    clock.advance(seconds=1)
    await query_pending.defer_async(timestamp=0)
    await run_jobs()
    body = await order_status(w.shop, order["order_no"])
    assert body["status"] == "delivered"
    assert await notify_log(db) == [("QUERY", "accepted", trade_no)]


async def test_trades_survive_a_restart(wired: Wired, db: Sessions, tmp_path: Path) -> None:
    w = wired
    await create_product(db, price_cents=1050)
    order = await place_order(w.shop, gateway="epay_v2")
    trade_no = await open_cashier(w, order)
    again = sandbox_app(state_file=JsonFile(tmp_path / "epay_v2.json"))
    trade = await trade_after_restart(again, SANDBOX, trade_no)
    assert (trade["out_trade_no"], trade["money"], trade["status"]) == (
        order["order_no"],
        "10.50",
        0,
    )


async def test_return_url_asks_epay_v2_at_once_and_nothing_is_paid_twice(
    wired: Wired, db: Sessions, settings: Settings, run_jobs: Any, clock: Any
) -> None:
    w = wired
    await check_return_url_asks_at_once(
        shop=w.shop,
        sandbox=w.epay,
        channel="epay_v2",
        cashier=partial(open_cashier, w),
        return_query="trade_status=TRADE_SUCCESS",
        db=db,
        settings=settings,
        run_jobs=run_jobs,
        clock=clock,
        debounce_seconds=5,  # the pay page's visit was just now (a 5 s debounce)
    )
