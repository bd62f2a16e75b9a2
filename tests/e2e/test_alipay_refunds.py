"""Refunds through the Alipay sandbox: alipay.trade.refund (synchronous,
idempotent by out_request_no) and alipay.trade.fastpay.refund.query."""

from __future__ import annotations

from typing import Any

from kameng.config import Settings
from kameng.db.connection import fetch_all
from kameng.payments.gateways.alipay import AlipayGateway
from kameng.payments.gateways.base import RefundOutcome, RefundRequest
from tests.e2e.test_alipay_roundtrip import (
    Wired,
    open_cashier,
    wired,  # noqa: F401 - the fixture
)
from tests.e2e.wiring import order_status, wait_delivered
from tests.factories import Sessions, add_keys, ask_refund, create_product, place_order, transaction


async def states(pool: Any) -> list[tuple[str, str, int]]:
    async with transaction(pool) as conn:
        rows = await fetch_all(conn, "SELECT refund_no, state, attempts FROM refunds ORDER BY id")
    return [(r[0], r[1], r[2]) for r in rows]


async def test_partial_then_full_refund_through_alipay(
    wired: Wired,  # noqa: F811 - the fixture imported above
    db: Sessions,
    settings: Settings,
    pool: Any,
    run_jobs: Any,
    worker_runtime: Any,
) -> None:
    w = wired
    product_id = await create_product(db, price_cents=1050)
    await add_keys(db, settings, product_id, 1)
    order = await place_order(w.shop, gateway="alipay")
    trade_no = await open_cashier(w, order)
    await w.alipay.post(f"/sandbox/pay/{trade_no}", data={"outcome": "notify"})

    await wait_delivered(w.shop, order["order_no"])
    no = order["order_no"]
    await ask_refund(pool, no, 50, "part", reason="退款测试")
    await run_jobs()
    assert await states(pool) == [(f"{no}R01", "succeeded", 1)]
    await ask_refund(pool, no, None, "rest", reason="退款测试")
    await run_jobs()
    assert await states(pool) == [(f"{no}R01", "succeeded", 1), (f"{no}R02", "succeeded", 1)]
    trade = (await w.alipay.get(f"/sandbox/trades/{trade_no}")).json()
    assert [(r["out_request_no"], r["cents"]) for r in trade["refunds"]] == [
        (f"{no}R01", 50),
        (f"{no}R02", 1000),
    ]
    timeline = (await order_status(w.shop, no))["timeline"]
    assert [e["type"] for e in timeline if e["type"].startswith("refund")] == [
        "refund_requested",
        "refund_submitted",
        "refund_succeeded",
    ] * 2

    gateway = worker_runtime.gateways.get("alipay")
    assert isinstance(gateway, AlipayGateway)

    def request(refund_no: str, cents: int) -> RefundRequest:
        return RefundRequest(no, trade_no, refund_no, cents, 1050, "")

    # Asking again: known numbers are refunded, an unknown one is not known.
    assert (await gateway.query_refund(request(f"{no}R01", 50))).outcome == RefundOutcome.SUCCEEDED
    assert (await gateway.query_refund(request(f"{no}R09", 50))).outcome == RefundOutcome.UNKNOWN
    # Re-sending a refund number moves no money twice; more than the rest is refused.
    assert (await gateway.refund(request(f"{no}R01", 50))).outcome == RefundOutcome.SUCCEEDED
    assert (await gateway.refund(request(f"{no}R03", 1))).outcome == RefundOutcome.REFUSED
    trade = (await w.alipay.get(f"/sandbox/trades/{trade_no}")).json()
    assert len(trade["refunds"]) == 2
