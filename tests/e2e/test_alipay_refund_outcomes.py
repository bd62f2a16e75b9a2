"""Alipay refund outcomes chosen on the sandbox: a refusal (卖家余额不足) is
retried under a new out_request_no once the back-off has passed; a refund
answered ACQ.SYSTEM_ERROR is never re-sent but found done by
alipay.trade.fastpay.refund.query; 对账 then compares the bill's refund rows
with ours."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from kameng.db.connection import fetch_all
from kameng.kit import clock
from kameng.payments.reconcile import repository
from kameng.payments.reconcile.service import reconcile
from kameng.payments.refunds.tasks import settle_submitted
from tests.e2e.test_alipay_refunds import states
from tests.e2e.test_alipay_roundtrip import (
    Wired,
    open_cashier,
    wired,  # noqa: F401 - the fixture
)
from tests.e2e.wiring import order_status, paid_on_cashier, wait_for
from tests.factories import (
    Sessions,
    ask_refund,
    refund_due_now,
    transaction,
)


def paid(w: Wired, db: Sessions, refund_outcome: str) -> Awaitable[tuple[str, str]]:
    cashier = partial(open_cashier, w)
    return paid_on_cashier(db, w.settings, w.shop, w.alipay, "alipay", cashier, refund_outcome)


async def sandbox_refunds(w: Wired, trade_no: str) -> list[tuple[str, int, bool]]:
    trade = (await w.alipay.get(f"/sandbox/trades/{trade_no}")).json()
    return [(r["out_request_no"], r["cents"], r["processing"]) for r in trade["refunds"]]


async def test_refused_refund_is_retried_under_a_new_request_number(
    wired: Wired,  # noqa: F811 - the fixture imported above
    db: Sessions,
    pool: Any,
    run_jobs: Any,
) -> None:
    w = wired
    no, trade_no = await paid(w, db, "refund_fails")
    refund_id = await ask_refund(pool, no, None, "all", reason="退款测试")
    await run_jobs()
    assert await states(pool) == [(f"{no}R01", "failed", 1)]
    assert await sandbox_refunds(w, trade_no) == []  # no money moved
    async with transaction(pool) as conn:
        rows = await fetch_all(conn, "SELECT last_error FROM refunds")
    assert rows == [("ACQ.SELLER_BALANCE_NOT_ENOUGH: 卖家余额不足",)]

    await run_jobs()  # not due yet: nothing happens
    assert await states(pool) == [(f"{no}R01", "failed", 1)]

    changed = await w.alipay.post(
        f"/sandbox/trades/{trade_no}/refund-outcome", data={"outcome": "refund_succeeds"}
    )
    assert changed.status_code == 200
    await refund_due_now(pool, refund_id)
    await run_jobs()
    assert await states(pool) == [(f"{no}R01", "succeeded", 2)]
    assert await sandbox_refunds(w, trade_no) == [(f"{no}R01-2", 1050, False)]
    timeline = (await order_status(w.shop, no))["timeline"]
    assert [e["type"] for e in timeline if e["type"].startswith("refund")] == [
        "refund_requested",
        "refund_submitted",
        "refund_failed",
        "refund_submitted",
        "refund_succeeded",
    ]


async def test_late_refund_is_found_by_the_refund_query(
    wired: Wired,  # noqa: F811 - the fixture imported above
    db: Sessions,
    pool: Any,
    run_jobs: Any,
    worker_runtime: Any,
) -> None:
    w = wired
    no, trade_no = await paid(w, db, "refund_late")
    refund_id = await ask_refund(pool, no, 300, "part", reason="退款测试")
    await run_jobs()
    assert await states(pool) == [(f"{no}R01", "submitted", 1)]
    async with transaction(pool) as conn:
        rows = await fetch_all(conn, "SELECT last_error FROM refunds")
    assert rows[0][0].startswith("no answer: code 20000 ACQ.SYSTEM_ERROR")

    async def finished() -> bool:
        return await sandbox_refunds(w, trade_no) == [(f"{no}R01", 300, False)]

    await wait_for(finished)
    await run_jobs()  # the job never re-sends a refund whose answer was lost
    # Before the shop has asked, 对账 sees the refund done at Alipay, not here.
    gateway = worker_runtime.gateways.get("alipay")
    day = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    run_id = await reconcile(pool, gateway, day, clock.now())
    async with transaction(pool) as conn:
        findings = await repository.findings_of(conn, run_id)
    assert [f[:5] for f in findings] == [("refund_unsettled_here", no, trade_no, 300, 300)]
    assert findings[0][5]["local"]["state"] == "submitted"

    await settle_submitted(pool, worker_runtime.gateways, refund_id)
    assert await states(pool) == [(f"{no}R01", "succeeded", 1)]
    assert await sandbox_refunds(w, trade_no) == [(f"{no}R01", 300, False)]
    run_id = await reconcile(pool, gateway, day, clock.now())
    async with transaction(pool) as conn:
        assert await repository.findings_of(conn, run_id) == []


async def test_reconciliation_compares_the_bills_refunds(
    wired: Wired,  # noqa: F811 - the fixture imported above
    db: Sessions,
    pool: Any,
    run_jobs: Any,
    worker_runtime: Any,
) -> None:
    w = wired
    no, trade_no = await paid(w, db, "refund_succeeds")
    gateway = worker_runtime.gateways.get("alipay")
    day = datetime.now(ZoneInfo("Asia/Shanghai")).date()

    first = await ask_refund(pool, no, 300, "a", reason="退款测试")
    await run_jobs()
    assert await states(pool) == [(f"{no}R01", "succeeded", 1)]
    run_id = await reconcile(pool, gateway, day, clock.now())
    async with transaction(pool) as conn:
        assert await repository.findings_of(conn, run_id) == []  # bill and books agree

    # Refunded at Alipay by hand (no such refund here), a refund whose amount we
    # recorded differently, and a refund we count as succeeded that Alipay lacks.
    answer = await gateway._api(
        "alipay.trade.refund",
        {"out_trade_no": no, "refund_amount": "1.00", "out_request_no": "BY-HAND-1"},
    )
    assert answer["code"] == "10000"
    async with transaction(pool) as conn:
        await conn.execute("UPDATE refunds SET amount_cents = 200 WHERE id = %(i)s", {"i": first})
    second = await ask_refund(pool, no, 50, "b", reason="退款测试")
    async with transaction(pool) as conn:
        await conn.execute(
            "UPDATE refunds SET state = 'succeeded', attempts = 1, succeeded_at = %(now)s "
            "WHERE id = %(i)s",
            {"now": clock.now(), "i": second},
        )
    run_id = await reconcile(pool, gateway, day, clock.now())
    async with transaction(pool) as conn:
        findings = await repository.findings_of(conn, run_id)
    assert sorted(f[:5] for f in findings) == [
        ("refund_amount_mismatch", no, trade_no, 200, 300),
        ("refund_missing_at_gateway", no, trade_no, 50, None),
        ("refund_unknown_here", no, trade_no, None, 100),
    ]
    unknown = next(f for f in findings if f[0] == "refund_unknown_here")
    assert unknown[5]["bill"]["refund_no"] == "BY-HAND-1"
    assert unknown[5]["bill"]["kind"] == "退款"
