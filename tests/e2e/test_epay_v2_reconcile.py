"""对账 against the 易支付 V2 sandbox's order list (api/merchant/orders, RSA-signed
request, platform-signed answer): a payment the shop never heard of is repaired;
a wrong amount, a payment for an unknown order and a payment the gateway lacks
are flagged."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from kameng.kit import clock
from kameng.payments.gateways.base import PayRequest
from kameng.payments.gateways.epay_v2 import EpayV2Gateway
from kameng.payments.reconcile import repository
from kameng.payments.reconcile.service import reconcile
from tests.e2e.test_epay_v2_roundtrip import (  # noqa: F401 - the fixture
    SANDBOX,
    Wired,
    open_cashier,
    wait_for,
    wired,
)
from tests.factories import Sessions, add_keys, count, create_product, make_order, pay, place_order
from tests.factories import transaction as tx


def today() -> Any:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


async def paid(w: Wired, outcome: str) -> dict[str, Any]:
    order = await place_order(w.shop, gateway="epay_v2")
    order["trade_no"] = await open_cashier(w, order)
    answer = await w.epay.post(
        f"/sandbox/trades/{order['trade_no']}/pay", data={"outcome": outcome}
    )
    assert answer.json()["paid_now"] is True
    return order


async def status(w: Wired, order_no: str) -> str:
    return str((await w.shop.get(f"/api/shop/orders/{order_no}")).json()["status"])


async def test_epay_v2_order_list_repairs_and_flags(
    wired: Wired,  # noqa: F811 - the fixture imported above
    db: Sessions,
    settings: Any,
    pool: Any,
    worker_runtime: Any,
) -> None:
    w = wired
    await add_keys(db, settings, await create_product(db, price_cents=1050), 3)
    gateway = worker_runtime.gateways.get("epay_v2")
    assert isinstance(gateway, EpayV2Gateway)

    silent = await paid(w, "silent")
    known = await paid(w, "notify")

    async def delivered() -> bool:
        return await status(w, known["order_no"]) == "delivered"

    await wait_for(delivered)
    async with tx(pool) as conn:
        await conn.execute(
            "UPDATE payments SET amount_cents = 1000 WHERE trade_no = %(t)s",
            {"t": known["trade_no"]},
        )
    link = gateway.fresh_pay_url(
        PayRequest("NOSUCHORDER000002", 777, "别处", "http://x.test/n", "http://x.test/r")
    )
    assert (await w.epay.get(link.removeprefix(SANDBOX))).status_code == 200
    await w.epay.post("/sandbox/trades/NOSUCHORDER000002/pay", data={"outcome": "silent"})
    ghost = await make_order(pool)
    await pay(pool, settings, ghost, trade_no="NOT-AT-EPAY-V2")
    async with tx(pool) as conn:
        await conn.execute(
            "UPDATE payments SET gateway = 'epay_v2' WHERE trade_no = 'NOT-AT-EPAY-V2'"
        )

    day = today()
    run_id = await reconcile(pool, gateway, day, clock.now())
    async with tx(pool) as conn:
        findings = await repository.findings_of(conn, run_id)
        cur = await conn.execute(
            "SELECT channel, gateway_lines, local_payments, error FROM reconciliation_runs "
            "WHERE id = %(r)s",
            {"r": run_id},
        )
        run = await cur.fetchone()
    assert run == ("epay_v2", 3, 2, None)
    order = ["repaired", "not_repaired", "amount_mismatch", "missing_at_gateway"]
    findings.sort(key=lambda f: order.index(f[0]))
    assert [f[:5] for f in findings] == [
        ("repaired", silent["order_no"], silent["trade_no"], None, 1050),
        ("not_repaired", "NOSUCHORDER000002", findings[1][2], None, 777),
        ("amount_mismatch", known["order_no"], known["trade_no"], 1000, 1050),
        ("missing_at_gateway", ghost.order_no, "NOT-AT-EPAY-V2", ghost.amount_cents, None),
    ]
    assert findings[1][5]["verdict"] == "unknown_order"
    assert findings[2][5]["bill"]["money"] == "10.50"
    assert await status(w, silent["order_no"]) == "delivered"

    again = await reconcile(pool, gateway, day, clock.now())
    async with tx(pool) as conn:
        kinds = sorted(f[0] for f in await repository.findings_of(conn, again))
    assert kinds == ["amount_mismatch", "missing_at_gateway", "not_repaired"]
    assert await count(db, "SELECT count(*) FROM payments WHERE gateway = 'epay_v2'") == 3


async def test_order_list_refuses_bad_paging_and_signatures(
    wired: Wired,  # noqa: F811 - the fixture imported above
    worker_runtime: Any,
) -> None:
    gateway = worker_runtime.gateways.get("epay_v2")
    assert isinstance(gateway, EpayV2Gateway)
    too_many = gateway._signed({"pid": gateway.pid, "offset": "0", "limit": "51"})
    answer = (await wired.epay.post("/api/merchant/orders", data=too_many)).json()
    assert answer == {"code": -1, "msg": "limit最大不能超过50"}
    forged = gateway._signed({"pid": gateway.pid, "offset": "0", "limit": "50"}) | {"limit": "5"}
    answer = (await wired.epay.post("/api/merchant/orders", data=forged)).json()
    assert answer == {"code": -1, "msg": "签名校验失败"}
    garbage = (await wired.epay.post("/api/merchant/orders", data={"x": "\u00ff"})).json()
    assert garbage["code"] == -1
