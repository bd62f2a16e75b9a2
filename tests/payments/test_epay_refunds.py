"""易支付 V1 refunds through the sandbox (api.php?act=refund): partial, then the
rest; an unanswered refund is never re-sent (V1 refunds have no number)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from kameng.config import Settings
from kameng.db.connection import fetch_all
from kameng.kit import clock
from kameng.payments import service as payments
from kameng.payments.gateways.registry import GatewayRegistry, from_settings
from kameng.payments.refunds.tasks import settle_submitted
from tests.factories import ask_refund, make_stocked_product, refund_due_now, transaction
from tests.payments.epay_sandbox import (
    buyer,
    gateways,
    paid_at_gateway,
    sandbox,  # noqa: F401 - the fixture
)


@dataclass
class Paid:
    """The paid order and its trade at the sandbox."""

    order_no: str
    trade_no: str
    sandbox: Any

    async def trade(self) -> dict[str, Any]:
        async with buyer(self.sandbox) as c:
            body: dict[str, Any] = (await c.get(f"/sandbox/trades/{self.trade_no}")).json()
        return body

    async def set_refund_outcome(self, outcome: str) -> None:
        async with buyer(self.sandbox) as c:
            answer = await c.post(
                f"/sandbox/trades/{self.trade_no}/refund-outcome", data={"outcome": outcome}
            )
        assert answer.status_code == 200, answer.text


@pytest.fixture
async def order(
    client: httpx.AsyncClient,
    sandbox: Any,  # noqa: F811 - the fixture imported above
    settings: Settings,
    pool: Any,
) -> Paid:
    """A ¥10.00 order paid at the sandbox, its lost notify found by asking."""
    await make_stocked_product(pool, settings, keys=1, price_cents=1000)
    order = await paid_at_gateway(client, sandbox)
    gateway = gateways(settings, sandbox).get("epay")
    assert gateway is not None
    verified = await gateway.query(order["order_no"])  # the notify was lost: ask
    assert verified is not None
    async with transaction(pool) as conn:
        outcome = await payments.settle_queried(
            conn, gateway=gateway, verified=verified, now=clock.now()
        )
    assert outcome.verdict == "accepted"
    return Paid(order["order_no"], order["trade_no"], sandbox)


@pytest.fixture
def worker_gateways(
    settings: Settings,
    sandbox: Any,  # noqa: F811 - the fixture imported above
    worker_runtime: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> GatewayRegistry:
    """The worker's refunds go to the sandbox."""
    registry = gateways(settings, sandbox)
    monkeypatch.setattr(worker_runtime, "gateways", registry)
    return registry


async def refunds(pool: Any) -> list[tuple[str, str, int]]:
    async with transaction(pool) as conn:
        rows = await fetch_all(
            conn, "SELECT refund_no, state, amount_cents FROM refunds ORDER BY id"
        )
    return [(r[0], r[1], r[2]) for r in rows]


async def test_partial_then_full_refund(
    order: Paid, worker_gateways: GatewayRegistry, pool: Any, run_jobs: Any
) -> None:
    no = order.order_no
    await ask_refund(pool, no, 250, "a")
    await run_jobs()
    trade = await order.trade()
    assert (trade["refunded_cents"], trade["status"]) == (250, 1)
    await ask_refund(pool, no, None, "b")
    await run_jobs()
    assert await refunds(pool) == [(f"{no}R01", "succeeded", 250), (f"{no}R02", "succeeded", 750)]
    trade = await order.trade()
    assert (trade["refunded_cents"], trade["status"]) == (1000, 2)  # 2: 已退款


async def test_an_unanswered_refund_is_never_sent_again(
    order: Paid,
    settings: Settings,
    pool: Any,
    run_jobs: Any,
    worker_runtime: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []

    def broken(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.params.get("act", ""))
        raise httpx.ReadTimeout("no answer", request=request)

    registry = from_settings(settings, transport=httpx.MockTransport(broken))
    monkeypatch.setattr(worker_runtime, "gateways", registry)
    refund_id = await ask_refund(pool, order.order_no, None, "a")
    await run_jobs()
    await settle_submitted(pool, registry, refund_id)
    await run_jobs()
    assert calls == ["refund"]  # asked once; maybe refunded, so never again
    assert await refunds(pool) == [(f"{order.order_no}R01", "submitted", 1000)]
    async with transaction(pool) as conn:
        rows = await fetch_all(conn, "SELECT last_error FROM refunds")
    assert rows[0][0].startswith("no answer: ReadTimeout")


async def test_refused_refund_is_retried(
    order: Paid, worker_gateways: GatewayRegistry, pool: Any, run_jobs: Any
) -> None:
    no = order.order_no
    await order.set_refund_outcome("refund_fails")
    refund_id = await ask_refund(pool, no, None, "a")
    await run_jobs()
    assert await refunds(pool) == [(f"{no}R01", "failed", 1000)]
    assert (await order.trade())["refunded_cents"] == 0

    await order.set_refund_outcome("refund_succeeds")
    await refund_due_now(pool, refund_id)
    await run_jobs()
    assert await refunds(pool) == [(f"{no}R01", "succeeded", 1000)]
    trade = await order.trade()
    assert (trade["refunded_cents"], trade["status"]) == (1000, 2)


async def test_a_late_refund_whose_answer_was_lost_waits_for_an_operator(
    order: Paid, worker_gateways: GatewayRegistry, pool: Any, run_jobs: Any
) -> None:
    no = order.order_no
    await order.set_refund_outcome("refund_late")
    refund_id = await ask_refund(pool, no, 400, "a")
    await run_jobs()
    await settle_submitted(pool, worker_gateways, refund_id)  # V1 cannot be asked
    await run_jobs()
    assert await refunds(pool) == [(f"{no}R01", "submitted", 400)]
    assert (await order.trade())["refunded_cents"] == 400  # once
