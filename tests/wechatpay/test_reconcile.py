"""对账 against the WeChat Pay sandbox's trade bill: a payment whose notify never
came is repaired from the bill (the file checked against its signed SHA1)."""

from __future__ import annotations

from datetime import date
from typing import Any

from kameng.config import Settings
from kameng.kit import clock
from kameng.payments.reconcile import repository
from kameng.payments.reconcile.service import reconcile
from tests.factories import Sessions, add_keys, count, create_product, transaction
from tests.wechatpay.conftest import DESKTOP, Wired


async def test_bill_repairs_a_silent_payment(
    wired: Wired, db: Sessions, settings: Settings, pool: Any
) -> None:
    await add_keys(db, settings, await create_product(db, price_cents=1000), 1)
    order = await wired.order()
    no = order["order_no"]
    assert (await wired.shop.get(f"/o/{no}/pay", headers=DESKTOP)).status_code == 200
    paid = await wired.phone.post(f"/sandbox/trades/{no}/pay", params={"outcome": "no_notify"})
    assert paid.status_code == 200
    trade = (await wired.phone.get(f"/sandbox/trades/{no}")).json()
    day = date.fromisoformat(trade["success_time"][:10])
    assert (await wired.status(no))["status"] == "unpaid"

    lines = await wired.gateway.bill(day)
    assert [(b.out_trade_no, b.trade_no, b.amount_cents) for b in lines] == [
        (no, trade["transaction_id"], 1000)
    ]
    run_id = await reconcile(pool, wired.gateway, day, clock.now())
    async with transaction(pool) as conn:
        findings = await repository.findings_of(conn, run_id)
    assert [(f[0], f[1], f[4]) for f in findings] == [("repaired", no, 1000)]
    assert (await wired.status(no))["status"] == "delivered"
    assert await count(db, "SELECT count(*) FROM payments") == 1
