"""对账 against the Alipay sandbox's bill: alipay.data.dataservice.bill.downloadurl.query
hands out a link to a zipped GBK CSV in Alipay's format; a payment the shop never
heard of is repaired, and a wrong amount, a payment for an order the shop does not
have and a payment the bill lacks are flagged with evidence."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Awaitable
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from kameng.kit import clock
from kameng.payments.gateways.alipay import AlipayGateway
from kameng.payments.gateways.base import GatewayUnavailable
from kameng.payments.reconcile.service import reconcile
from tests.e2e.test_alipay_roundtrip import (
    SANDBOX,
    Wired,
    open_cashier,
    wired,  # noqa: F401 - the fixture
)
from tests.e2e.wiring import check_repairs_and_flags, paid_by_script, today
from tests.factories import Sessions, add_keys, create_product
from tests.factories import transaction as tx


def paid(w: Wired, outcome: str) -> Awaitable[dict[str, Any]]:
    return paid_by_script(w.shop, w.alipay, "alipay", partial(open_cashier, w), outcome)


async def test_alipay_bill_repairs_and_flags(
    wired: Wired,  # noqa: F811 - the fixture imported above
    db: Sessions,
    pool: Any,
    worker_runtime: Any,
) -> None:
    w = wired
    gateway = worker_runtime.gateways.get("alipay")
    assert isinstance(gateway, AlipayGateway)
    await check_repairs_and_flags(
        shop=w.shop,
        sandbox=w.alipay,
        sandbox_url=SANDBOX,
        cashier=partial(open_cashier, w),
        gateway=gateway,
        channel="alipay",
        pay_link=gateway.pay_url,
        stranger_no="NOSUCHORDER000001",
        ghost_trade_no="NOT-AT-ALIPAY",
        evidence=("kind", "交易"),
        db=db,
        settings=w.settings,
        pool=pool,
    )


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
