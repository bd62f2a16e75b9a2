"""对账 against the 易支付 V2 sandbox's order list (api/merchant/orders, RSA-signed
request, platform-signed answer): a payment the shop never heard of is repaired;
a wrong amount, a payment for an unknown order and a payment the gateway lacks
are flagged."""

from __future__ import annotations

from functools import partial
from typing import Any

from kameng.payments.gateways.epay_v2 import EpayV2Gateway
from tests.e2e.test_epay_v2_roundtrip import (
    SANDBOX,
    Wired,
    open_cashier,
    wired,  # noqa: F401 - the fixture
)
from tests.e2e.wiring import check_repairs_and_flags
from tests.factories import Sessions


async def test_epay_v2_order_list_repairs_and_flags(
    wired: Wired,  # noqa: F811 - the fixture imported above
    db: Sessions,
    settings: Any,
    pool: Any,
    worker_runtime: Any,
) -> None:
    w = wired
    gateway = worker_runtime.gateways.get("epay_v2")
    assert isinstance(gateway, EpayV2Gateway)
    await check_repairs_and_flags(
        shop=w.shop,
        sandbox=w.epay,
        sandbox_url=SANDBOX,
        cashier=partial(open_cashier, w),
        gateway=gateway,
        channel="epay_v2",
        pay_link=gateway.fresh_pay_url,
        stranger_no="NOSUCHORDER000002",
        ghost_trade_no="NOT-AT-EPAY-V2",
        evidence=("money", "10.50"),
        db=db,
        settings=settings,
        pool=pool,
    )


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
