"""Refunds through the WeChat Pay sandbox over its real v3 wire format: full,
partial, and refused then retried under a new refund number. The refund job
runs as the worker runs it; settling asks the sandbox (GET …/refunds/{no})."""

from __future__ import annotations

from typing import Any

import pytest

from kameng.config import Settings
from kameng.db.connection import fetch_all
from kameng.kit import clock
from kameng.payments.refunds.tasks import settle_submitted
from tests.factories import (
    Sessions,
    add_keys,
    ask_refund,
    count,
    create_product,
    refund_due_now,
    transaction,
)
from tests.support import wait_for
from tests.wechatpay.conftest import DESKTOP, Wired


@pytest.fixture(autouse=True)
def settled_by_asking(wired: Wired, monkeypatch: pytest.MonkeyPatch) -> None:
    """No refund notify here: these tests settle by asking (GET …/refunds/{no});
    the notify has its own tests (test_refund_notify.py)."""
    monkeypatch.setattr(wired.gateway, "refund_notify_url", "")


async def paid_order(wired: Wired, db: Sessions, settings: Settings) -> dict[str, Any]:
    product_id = await create_product(db, price_cents=1000)
    await add_keys(db, settings, product_id, 2)
    order = await wired.order(quantity=2)
    assert (await wired.shop.get(f"/o/{order['order_no']}/pay", headers=DESKTOP)).status_code == 200
    paid = await wired.phone.post(
        f"/sandbox/trades/{order['order_no']}/pay", params={"outcome": "notify"}
    )
    assert paid.status_code == 200

    async def delivered() -> bool:
        return bool((await wired.status(order["order_no"]))["status"] == "delivered")

    await wait_for(delivered)
    return order


async def refund_state(pool: Any, refund_id: int) -> tuple[str, int]:
    async with transaction(pool) as conn:
        rows = await fetch_all(
            conn, "SELECT state, attempts FROM refunds WHERE id = %(i)s", {"i": refund_id}
        )
    return rows[0][0], rows[0][1]


async def sandbox_refunds(wired: Wired, order_no: str) -> list[tuple[str, int, str]]:
    trade = (await wired.phone.get(f"/sandbox/trades/{order_no}")).json()
    return [(r["out_refund_no"], r["amount"]["refund"], r["status"]) for r in trade["refunds"]]


async def settle(wired: Wired, pool: Any, refund_id: int, order_no: str) -> None:
    """Wait until the sandbox settled the refund, then let the shop ask about it."""

    async def settled() -> bool:
        return all(status != "PROCESSING" for *_, status in await sandbox_refunds(wired, order_no))

    await wait_for(settled)
    await settle_submitted(pool, wired.shop_app.state.runtime.gateways, refund_id)


async def timeline(wired: Wired, order_no: str) -> list[str]:
    body = await wired.status(order_no)
    return [e["type"] for e in body["timeline"] if e["type"].startswith("refund")]


async def test_partial_then_full_refund(
    wired: Wired, db: Sessions, settings: Settings, pool: Any, run_jobs: Any
) -> None:
    order = await paid_order(wired, db, settings)
    no = order["order_no"]
    first = await ask_refund(pool, order["order_no"], 300, "part", reason="测试退款")
    await run_jobs()
    assert await refund_state(pool, first) == ("submitted", 1)
    await settle(wired, pool, first, no)
    assert await refund_state(pool, first) == ("succeeded", 1)

    rest = await ask_refund(pool, order["order_no"], None, "rest", reason="测试退款")
    await run_jobs()
    await settle(wired, pool, rest, no)
    assert await refund_state(pool, rest) == ("succeeded", 1)
    assert await sandbox_refunds(wired, no) == [
        (f"{no}R01", 300, "SUCCESS"),
        (f"{no}R02", 1700, "SUCCESS"),
    ]
    assert await count(db, "SELECT refunds_claimed_cents FROM payments") == 2000
    assert (
        await timeline(wired, no)
        == [
            "refund_requested",
            "refund_submitted",
            "refund_succeeded",
        ]
        * 2
    )


async def test_refused_refund_is_retried_under_a_new_number(
    wired: Wired, db: Sessions, settings: Settings, pool: Any, run_jobs: Any
) -> None:
    order = await paid_order(wired, db, settings)
    no = order["order_no"]
    fails = await wired.phone.post(
        f"/sandbox/trades/{no}/refund-outcome", params={"outcome": "refund_fails"}
    )
    assert fails.status_code == 200
    refund_id = await ask_refund(pool, order["order_no"], None, "all", reason="测试退款")
    await run_jobs()
    await settle(wired, pool, refund_id, no)
    assert await refund_state(pool, refund_id) == ("failed", 1)
    assert await sandbox_refunds(wired, no) == [(f"{no}R01", 2000, "ABNORMAL")]

    # Not due yet: running the job again changes nothing.
    await run_jobs()
    assert await refund_state(pool, refund_id) == ("failed", 1)

    await wired.phone.post(
        f"/sandbox/trades/{no}/refund-outcome", params={"outcome": "refund_succeeds"}
    )
    await refund_due_now(pool, refund_id)
    await run_jobs()
    await settle(wired, pool, refund_id, no)
    assert await refund_state(pool, refund_id) == ("succeeded", 2)
    assert await sandbox_refunds(wired, no) == [
        (f"{no}R01", 2000, "ABNORMAL"),
        (f"{no}R01-2", 2000, "SUCCESS"),
    ]
    assert await timeline(wired, no) == [
        "refund_requested",
        "refund_submitted",
        "refund_failed",
        "refund_submitted",
        "refund_succeeded",
    ]


async def test_late_refund_stays_pending_until_the_query_finds_it_done(
    wired: Wired, db: Sessions, settings: Settings, pool: Any, run_jobs: Any
) -> None:
    order = await paid_order(wired, db, settings)
    no = order["order_no"]
    late = await wired.phone.post(
        f"/sandbox/trades/{no}/refund-outcome", params={"outcome": "refund_late"}
    )
    assert late.status_code == 200
    refund_id = await ask_refund(pool, order["order_no"], 500, "late", reason="测试退款")
    await run_jobs()
    assert await refund_state(pool, refund_id) == ("submitted", 1)
    await settle(wired, pool, refund_id, no)
    assert await refund_state(pool, refund_id) == ("succeeded", 1)
    assert await sandbox_refunds(wired, no) == [(f"{no}R01", 500, "SUCCESS")]


async def test_reconciliation_compares_the_bills_refund_rows(
    wired: Wired, db: Sessions, settings: Settings, pool: Any, run_jobs: Any
) -> None:
    from datetime import date

    from kameng.payments.reconcile import repository
    from kameng.payments.reconcile.service import reconcile

    order = await paid_order(wired, db, settings)
    no = order["order_no"]
    refund_id = await ask_refund(pool, order["order_no"], 500, "part", reason="测试退款")
    await run_jobs()
    await settle(wired, pool, refund_id, no)
    trade = (await wired.phone.get(f"/sandbox/trades/{no}")).json()
    day = date.fromisoformat(trade["success_time"][:10])
    run_id = await reconcile(pool, wired.gateway, day, clock.now())
    async with transaction(pool) as conn:
        assert await repository.findings_of(conn, run_id) == []
    refunds = await wired.gateway.bill_refunds(day)
    assert [(r.out_trade_no, r.refund_no, r.amount_cents) for r in refunds] == [
        (no, f"{no}R01", 500)
    ]

    async with transaction(pool) as conn:  # as if our row said another amount
        await conn.execute(
            "UPDATE refunds SET amount_cents = 400 WHERE id = %(i)s", {"i": refund_id}
        )
    run_id = await reconcile(pool, wired.gateway, day, clock.now())
    async with transaction(pool) as conn:
        findings = await repository.findings_of(conn, run_id)
    assert [f[:5] for f in findings] == [
        ("refund_amount_mismatch", no, trade["transaction_id"], 400, 500)
    ]
    assert findings[0][5]["bill"]["out_refund_no"] == f"{no}R01"
