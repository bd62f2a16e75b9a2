"""易支付 V2 refunds through its sandbox (api/pay/refund, RSA-signed both ways,
idempotent by out_refund_no)."""

from __future__ import annotations

from typing import Any

from kameng.db.connection import fetch_all
from kameng.kit import clock
from kameng.models.vocabulary import Actor
from kameng.payments.gateways.base import RefundOutcome, RefundRequest
from kameng.payments.refunds.service import request_refund
from tests.e2e.test_epay_v2_roundtrip import (
    Wired,
    open_cashier,
    wired,  # noqa: F401 - the fixture
)
from tests.e2e.wiring import wait_delivered
from tests.factories import Sessions, add_keys, create_product, place_order, transaction


async def test_partial_then_full_refund_through_epay_v2(
    wired: Wired,  # noqa: F811 - the fixture imported above
    db: Sessions,
    settings: Any,
    pool: Any,
    run_jobs: Any,
    worker_runtime: Any,
) -> None:
    w = wired
    await add_keys(db, settings, await create_product(db, price_cents=1050), 1)
    order = await place_order(w.shop, gateway="epay_v2")
    trade_no = await open_cashier(w, order)
    await w.epay.post(f"/sandbox/pay/{trade_no}", data={"outcome": "notify"})
    no = order["order_no"]

    await wait_delivered(w.shop, no)
    for amount, key in ((50, "a"), (None, "b")):
        async with transaction(pool) as conn:
            rows = await fetch_all(conn, "SELECT id FROM orders WHERE order_no = %(n)s", {"n": no})
            await request_refund(
                conn,
                order_id=rows[0][0],
                amount_cents=amount,
                reason="test",
                idempotency_key=key,
                actor=Actor.OPERATOR,
                now=clock.now(),
            )
        await run_jobs()
    async with transaction(pool) as conn:
        rows = await fetch_all(
            conn, "SELECT refund_no, state, amount_cents FROM refunds ORDER BY id"
        )
    assert rows == [(f"{no}R01", "succeeded", 50), (f"{no}R02", "succeeded", 1000)]
    trade = (await w.epay.get(f"/sandbox/trades/{trade_no}")).json()
    assert [(r["out_refund_no"], r["cents"]) for r in trade["refunds"]] == [
        (f"{no}R01", 50),
        (f"{no}R02", 1000),
    ]
    gateway = worker_runtime.gateways.get("epay_v2")
    again = RefundRequest(no, trade_no, f"{no}R01", 50, 1050, "")
    assert (await gateway.query_refund(again)).outcome == RefundOutcome.SUCCEEDED
    more = RefundRequest(no, trade_no, f"{no}R03", 1, 1050, "")
    assert (await gateway.refund(more)).outcome == RefundOutcome.REFUSED
    trade = (await w.epay.get(f"/sandbox/trades/{trade_no}")).json()
    assert len(trade["refunds"]) == 2  # the repeated number moved no money
