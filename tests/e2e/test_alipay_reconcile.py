"""对账 against the Alipay sandbox's bill: alipay.data.dataservice.bill.downloadurl.query
hands out a link to a zipped GBK CSV in Alipay's format; a payment the shop never
heard of is repaired, and a wrong amount, a payment for an order the shop does not
have and a payment the bill lacks are flagged with evidence."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from kameng.kit import clock
from kameng.payments.gateways.alipay import AlipayGateway
from kameng.payments.gateways.base import GatewayUnavailable, PayRequest
from kameng.payments.reconcile import repository
from kameng.payments.reconcile.service import reconcile
from tests.e2e.test_alipay_roundtrip import (  # noqa: F401 - the fixture
    SANDBOX,
    Wired,
    open_cashier,
    order_status,
    wait_for,
    wired,
)
from tests.factories import Sessions, add_keys, count, create_product, make_order, pay, place_order
from tests.factories import transaction as tx


def today() -> Any:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


async def paid(w: Wired, outcome: str) -> dict[str, Any]:
    order = await place_order(w.shop, gateway="alipay")
    order["trade_no"] = await open_cashier(w, order)
    answer = await w.alipay.post(
        f"/sandbox/trades/{order['trade_no']}/pay", data={"outcome": outcome}
    )
    assert answer.json()["paid_now"] is True
    return order


async def test_alipay_bill_repairs_and_flags(
    wired: Wired,  # noqa: F811 - the fixture imported above
    db: Sessions,
    pool: Any,
    worker_runtime: Any,
) -> None:
    w = wired
    await add_keys(db, w.settings, await create_product(db, price_cents=1050), 3)
    gateway = worker_runtime.gateways.get("alipay")
    assert isinstance(gateway, AlipayGateway)

    silent = await paid(w, "silent")  # paid at Alipay, never notified
    known = await paid(w, "notify")

    async def delivered() -> bool:
        return (await order_status(w.shop, known["order_no"]))["status"] == "delivered"

    await wait_for(delivered)
    async with tx(pool) as conn:  # as if our row had been tampered with
        await conn.execute(
            "UPDATE payments SET amount_cents = 1000 WHERE trade_no = %(t)s",
            {"t": known["trade_no"]},
        )
    # Paid at Alipay for an order number the shop never issued.
    stranger = gateway.pay_url(
        PayRequest("NOSUCHORDER000001", 777, "别处的订单", "http://x.test/n", "http://x.test/r")
    )
    cashier = await w.alipay.get(stranger.removeprefix(SANDBOX))
    assert cashier.status_code == 200
    await w.alipay.post("/sandbox/trades/NOSUCHORDER000001/pay", data={"outcome": "silent"})
    # And a payment we hold that Alipay never had.
    ghost = await make_order(pool)
    await pay(pool, w.settings, ghost, trade_no="NOT-AT-ALIPAY")
    async with tx(pool) as conn:
        await conn.execute(
            "UPDATE payments SET gateway = 'alipay' WHERE trade_no = 'NOT-AT-ALIPAY'"
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
    assert run == ("alipay", 3, 2, None)
    order = ["repaired", "not_repaired", "amount_mismatch", "missing_at_gateway"]
    findings.sort(key=lambda f: order.index(f[0]))
    assert [f[:5] for f in findings] == [
        ("repaired", silent["order_no"], silent["trade_no"], None, 1050),
        ("not_repaired", "NOSUCHORDER000001", findings[1][2], None, 777),
        ("amount_mismatch", known["order_no"], known["trade_no"], 1000, 1050),
        ("missing_at_gateway", ghost.order_no, "NOT-AT-ALIPAY", ghost.amount_cents, None),
    ]
    assert findings[1][5]["verdict"] == "unknown_order"
    assert findings[2][5]["bill"]["kind"] == "交易"  # the bill line is the evidence
    assert (await order_status(w.shop, silent["order_no"]))["status"] == "delivered"

    again = await reconcile(pool, gateway, day, clock.now())  # nothing repaired twice
    async with tx(pool) as conn:
        kinds = sorted(f[0] for f in await repository.findings_of(conn, again))
    assert kinds == ["amount_mismatch", "missing_at_gateway", "not_repaired"]
    assert await count(db, "SELECT count(*) FROM payments WHERE gateway = 'alipay'") == 3


async def test_the_bill_is_a_gbk_zip_behind_a_30_second_link(
    wired: Wired,  # noqa: F811 - the fixture imported above
    db: Sessions,
    worker_runtime: Any,
) -> None:
    w = wired
    await add_keys(db, w.settings, await create_product(db, price_cents=1050), 1)
    order = await paid(w, "silent")
    gateway = worker_runtime.gateways.get("alipay")
    assert isinstance(gateway, AlipayGateway)
    answer = await gateway._api(
        "alipay.data.dataservice.bill.downloadurl.query",
        {"bill_type": "trade", "bill_date": today().isoformat()},
    )
    url = answer["bill_download_url"]
    assert url.startswith(f"{SANDBOX}/downloadBillFile.resource?")
    archive = zipfile.ZipFile(
        io.BytesIO((await w.alipay.get(url.removeprefix(SANDBOX))).content),
        metadata_encoding="gbk",
    )
    names = sorted(archive.namelist())
    assert [n.split("_", 2)[2] for n in names] == ["业务明细(汇总).csv", "业务明细.csv"]
    detail = archive.read(names[1]).decode("gbk").splitlines()
    assert detail[0] == "#支付宝业务明细查询"
    assert detail[4].startswith("支付宝交易号,商户订单号,业务类型")
    assert detail[5].startswith(f"{order['trade_no']}\t,{order['order_no']}\t,交易,")
    assert detail[-2] == "#交易合计：1笔，退款合计：0笔"

    # The link is good for 30 seconds of the sandbox's clock.
    later = clock.now().timestamp() + 31
    w.sandbox.state.alipay.clock = lambda: datetime.fromtimestamp(later, ZoneInfo("UTC"))
    expired = await w.alipay.get(url.removeprefix(SANDBOX))
    assert expired.status_code == 400 and "isp.bill_url_expired" in expired.text


async def test_a_bill_for_a_future_day_is_not_there(
    wired: Wired,  # noqa: F811 - the fixture imported above
    pool: Any,
    worker_runtime: Any,
) -> None:
    gateway = worker_runtime.gateways.get("alipay")
    assert isinstance(gateway, AlipayGateway)
    try:
        await gateway.bill(today() + timedelta(days=2))
    except GatewayUnavailable as exc:
        assert "40004" in str(exc)
    else:
        raise AssertionError("a future bill must not be read")
    day = today() + timedelta(days=2)
    run_id = await reconcile(pool, gateway, day, clock.now())
    async with tx(pool) as conn:
        cur = await conn.execute(
            "SELECT gateway_lines, error FROM reconciliation_runs WHERE id = %(r)s", {"r": run_id}
        )
        assert (await cur.fetchone()) == (0, "code 40004 isp.bill_not_exist")
