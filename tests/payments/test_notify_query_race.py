"""A notify and an active query confirming the same payment at the same moment
make one payment: both take the order's row lock, the second sees the first."""

from __future__ import annotations

import asyncio
from typing import Any

from kameng.config import Settings
from kameng.kit import clock
from kameng.payments import service as payments
from kameng.payments.gateways.base import VerifiedNotify
from kameng.payments.gateways.registry import from_settings
from tests.factories import count, make_order, make_stocked_product, pay, transaction


async def test_notify_and_query_at_once_pay_once(pool: Any, settings: Settings) -> None:
    await make_stocked_product(pool, settings, keys=5)
    gateway = from_settings(settings).get("epay")
    assert gateway is not None
    for _ in range(5):
        order = await make_order(pool)
        trade_no = f"2026{order.order_no}"
        verified = VerifiedNotify(
            out_trade_no=order.order_no,
            trade_no=trade_no,
            amount_cents=order.amount_cents,
            method="alipay",
        )

        async def query(verified: VerifiedNotify = verified) -> payments.NotifyOutcome:
            async with transaction(pool) as conn:
                return await payments.settle_queried(
                    conn, gateway=gateway, verified=verified, now=clock.now()
                )

        outcomes = await asyncio.gather(
            pay(pool, settings, order, trade_no=trade_no), query(), query()
        )
        assert sorted(o.verdict.value for o in outcomes) == ["accepted", "duplicate", "duplicate"]
    assert await count(pool, "SELECT count(*) FROM payments") == 5
    assert await count(pool, "SELECT count(*) FROM card_keys WHERE order_id IS NOT NULL") == 5
    assert await count(pool, "SELECT count(*) FROM order_events WHERE type = 'paid'") == 5
    assert await count(pool, "SELECT count(*) FROM refunds") == 0
