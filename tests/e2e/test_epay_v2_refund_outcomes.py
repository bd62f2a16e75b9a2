"""易支付 V2 refund outcomes chosen on the sandbox: a refusal (商户余额不足) is
retried under a new out_refund_no; a refund whose answer is lost (504) is found
done by api/pay/refundquery; 对账 compares each trade's refundmoney with ours."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from kameng.db.connection import fetch_all
from kameng.kit import clock
from kameng.payments.gateways.base import RefundOutcome, RefundRequest
from kameng.payments.reconcile import repository
from kameng.payments.reconcile.service import reconcile
from kameng.payments.refunds.tasks import settle_submitted
from tests.e2e.test_epay_v2_roundtrip import (
    Wired,
    open_cashier,
    wired,  # noqa: F401 - the fixture
)
from tests.e2e.wiring import paid_on_cashier, wait_for
from tests.factories import Sessions, ask_refund, refund_due_now, transaction


def paid(w: Wired, db: Sessions, settings: Any, refund_outcome: str) -> Awaitable[tuple[str, str]]:
    cashier = partial(open_cashier, w)
    return paid_on_cashier(db, settings, w.shop, w.epay, "epay_v2", cashier, refund_outcome)


async def states(pool: Any) -> list[tuple[str, str, int, int]]:
    async with transaction(pool) as conn:
        rows = await fetch_all(
            conn, "SELECT refund_no, state, attempts, amount_cents FROM refunds ORDER BY id"
        )
    return [(r[0], r[1], r[2], r[3]) for r in rows]


async def sandbox_refunds(w: Wired, trade_no: str) -> list[tuple[str, int, bool]]:
    trade = (await w.epay.get(f"/sandbox/trades/{trade_no}")).json()
    return [(r["out_refund_no"], r["cents"], r["processing"]) for r in trade["refunds"]]


async def test_refused_refund_is_retried_under_a_new_number(
    wired: Wired,  # noqa: F811 - the fixture imported above
    db: Sessions,
    settings: Any,
    pool: Any,
    run_jobs: Any,
) -> None:
    w = wired
    no, trade_no = await paid(w, db, settings, "refund_fails")
    refund_id = await ask_refund(pool, no, None, "all")
    await run_jobs()
    assert await states(pool) == [(f"{no}R01", "failed", 1, 1050)]
    assert await sandbox_refunds(w, trade_no) == []
    await w.epay.post(
        f"/sandbox/trades/{trade_no}/refund-outcome", data={"outcome": "refund_succeeds"}
    )
    await refund_due_now(pool, refund_id)
    await run_jobs()
    assert await states(pool) == [(f"{no}R01", "succeeded", 2, 1050)]
    assert await sandbox_refunds(w, trade_no) == [(f"{no}R01-2", 1050, False)]


async def test_lost_answer_then_refundquery_finds_it_done(
    wired: Wired,  # noqa: F811 - the fixture imported above
    db: Sessions,
    settings: Any,
    pool: Any,
    run_jobs: Any,
    worker_runtime: Any,
) -> None:
    w = wired
    no, trade_no = await paid(w, db, settings, "refund_late")
    refund_id = await ask_refund(pool, no, 300, "part")
    await run_jobs()
    assert await states(pool) == [(f"{no}R01", "submitted", 1, 300)]

    async def finished() -> bool:
        return await sandbox_refunds(w, trade_no) == [(f"{no}R01", 300, False)]

    await wait_for(finished)
    await settle_submitted(pool, worker_runtime.gateways, refund_id)
    assert await states(pool) == [(f"{no}R01", "succeeded", 1, 300)]
    gateway = worker_runtime.gateways.get("epay_v2")
    never = RefundRequest(no, trade_no, f"{no}R09", 300, 1050, "")
    assert (await gateway.query_refund(never)).outcome == RefundOutcome.UNKNOWN


async def test_reconciliation_compares_refunded_totals(
    wired: Wired,  # noqa: F811 - the fixture imported above
    db: Sessions,
    settings: Any,
    pool: Any,
    run_jobs: Any,
    worker_runtime: Any,
) -> None:
    w = wired
    no, trade_no = await paid(w, db, settings, "refund_succeeds")
    gateway = worker_runtime.gateways.get("epay_v2")
    day = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    await ask_refund(pool, no, 300, "a")
    await run_jobs()
    run_id = await reconcile(pool, gateway, day, clock.now())
    async with transaction(pool) as conn:
        assert await repository.findings_of(conn, run_id) == []

    # Refunded once more in the epay console: the order list says 4.00, we 3.00.
    more = RefundRequest(no, trade_no, "BY-HAND-1", 100, 1050, "")
    assert (await gateway.refund(more)).outcome == RefundOutcome.SUCCEEDED
    run_id = await reconcile(pool, gateway, day, clock.now())
    async with transaction(pool) as conn:
        findings = await repository.findings_of(conn, run_id)
    assert [f[:5] for f in findings] == [("refund_amount_mismatch", no, trade_no, 300, 400)]
    assert findings[0][5]["bill"]["refundmoney"] == "4.00"
    assert findings[0][5]["local_refunds"][0]["refund_no"] == f"{no}R01"
