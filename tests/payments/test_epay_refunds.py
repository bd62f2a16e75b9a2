"""易支付 V1 refunds through the sandbox (api.php?act=refund): partial, then the
rest; an unanswered refund is never re-sent (V1 refunds have no number)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from kameng.config import Settings
from kameng.db.connection import fetch_all
from kameng.db.jobs import JobName, defer
from kameng.kit import clock
from kameng.payments import service as payments
from kameng.payments.gateways.registry import from_settings
from kameng.payments.refunds.tasks import settle_submitted
from kameng.sandbox.epay import create_app as create_sandbox
from tests.factories import ask_refund, make_stocked_product, place_order, transaction

SANDBOX = "http://epay.sandbox.test"


def lost(request: httpx.Request) -> httpx.Response:
    return httpx.Response(502, text="bad gateway")


@pytest.fixture
async def sandbox(settings: Settings) -> AsyncIterator[Any]:
    app = create_sandbox(
        merchants={settings.epay_pid: settings.epay_key},
        time_scale=0.0001,
        http_transport=httpx.MockTransport(lost),
    )
    yield app
    await app.state.epay.aclose()


async def paid_order(client: httpx.AsyncClient, sandbox: Any, settings: Settings, pool: Any) -> Any:
    await make_stocked_product(pool, settings, keys=1, price_cents=1000)
    order = await place_order(client)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox), base_url=SANDBOX
    ) as buyer:
        cashier = await buyer.get(order["pay_url"].removeprefix(SANDBOX))
        found = re.search(r'action="[^"]*/pay/(\d+)"', cashier.text)
        assert found is not None
        assert (await buyer.post(f"/pay/{found.group(1)}")).status_code == 302
    gateway = from_settings(settings, transport=httpx.ASGITransport(app=sandbox)).get("epay")
    assert gateway is not None
    verified = await gateway.query(order["order_no"])  # the notify was lost: ask
    assert verified is not None
    async with transaction(pool) as conn:
        outcome = await payments.settle_queried(
            conn, gateway=gateway, verified=verified, now=clock.now()
        )
    assert outcome.verdict == "accepted"
    order["trade_no"] = found.group(1)
    return order


async def refunds(pool: Any) -> list[tuple[str, str, int]]:
    async with transaction(pool) as conn:
        rows = await fetch_all(
            conn, "SELECT refund_no, state, amount_cents FROM refunds ORDER BY id"
        )
    return [(r[0], r[1], r[2]) for r in rows]


async def sandbox_trade(sandbox: Any, trade_no: str) -> dict[str, Any]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox), base_url=SANDBOX) as c:
        body: dict[str, Any] = (await c.get(f"/sandbox/trades/{trade_no}")).json()
    return body


async def test_partial_then_full_refund(
    client: httpx.AsyncClient,
    sandbox: Any,
    settings: Settings,
    pool: Any,
    run_jobs: Any,
    worker_runtime: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    order = await paid_order(client, sandbox, settings, pool)
    registry = from_settings(settings, transport=httpx.ASGITransport(app=sandbox))
    monkeypatch.setattr(worker_runtime, "gateways", registry)
    no = order["order_no"]
    await ask_refund(pool, no, 250, "a")
    await run_jobs()
    trade = await sandbox_trade(sandbox, order["trade_no"])
    assert (trade["refunded_cents"], trade["status"]) == (250, 1)
    await ask_refund(pool, no, None, "b")
    await run_jobs()
    assert await refunds(pool) == [(f"{no}R01", "succeeded", 250), (f"{no}R02", "succeeded", 750)]
    trade = await sandbox_trade(sandbox, order["trade_no"])
    assert (trade["refunded_cents"], trade["status"]) == (1000, 2)  # 2: 已退款


async def test_an_unanswered_refund_is_never_sent_again(
    client: httpx.AsyncClient,
    sandbox: Any,
    settings: Settings,
    pool: Any,
    run_jobs: Any,
    worker_runtime: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    order = await paid_order(client, sandbox, settings, pool)
    calls: list[str] = []

    def broken(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.params.get("act", ""))
        raise httpx.ReadTimeout("no answer", request=request)

    registry = from_settings(settings, transport=httpx.MockTransport(broken))
    monkeypatch.setattr(worker_runtime, "gateways", registry)
    refund_id = await ask_refund(pool, order["order_no"], None, "a")
    await run_jobs()
    await settle_submitted(pool, registry, refund_id)
    await run_jobs()
    assert calls == ["refund"]  # asked once; maybe refunded, so never again
    assert await refunds(pool) == [(f"{order['order_no']}R01", "submitted", 1000)]
    async with transaction(pool) as conn:
        rows = await fetch_all(conn, "SELECT last_error FROM refunds")
    assert rows[0][0].startswith("no answer: ReadTimeout")


async def set_refund_outcome(sandbox: Any, trade_no: str, outcome: str) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox), base_url=SANDBOX) as c:
        answer = await c.post(
            f"/sandbox/trades/{trade_no}/refund-outcome", data={"outcome": outcome}
        )
    assert answer.status_code == 200, answer.text


async def test_refused_refund_is_retried(
    client: httpx.AsyncClient,
    sandbox: Any,
    settings: Settings,
    pool: Any,
    run_jobs: Any,
    worker_runtime: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    order = await paid_order(client, sandbox, settings, pool)
    registry = from_settings(settings, transport=httpx.ASGITransport(app=sandbox))
    monkeypatch.setattr(worker_runtime, "gateways", registry)
    no, trade_no = order["order_no"], order["trade_no"]
    await set_refund_outcome(sandbox, trade_no, "refund_fails")
    refund_id = await ask_refund(pool, no, None, "a")
    await run_jobs()
    assert await refunds(pool) == [(f"{no}R01", "failed", 1000)]
    assert (await sandbox_trade(sandbox, trade_no))["refunded_cents"] == 0

    await set_refund_outcome(sandbox, trade_no, "refund_succeeds")
    async with transaction(pool) as conn:  # the back-off has passed
        await conn.execute(
            "UPDATE refunds SET next_attempt_at = %(now)s WHERE id = %(i)s",
            {"now": clock.now(), "i": refund_id},
        )
        await defer(conn, JobName.EXECUTE_REFUND, refund_id=refund_id)
    await run_jobs()
    assert await refunds(pool) == [(f"{no}R01", "succeeded", 1000)]
    trade = await sandbox_trade(sandbox, trade_no)
    assert (trade["refunded_cents"], trade["status"]) == (1000, 2)


async def test_a_late_refund_whose_answer_was_lost_waits_for_an_operator(
    client: httpx.AsyncClient,
    sandbox: Any,
    settings: Settings,
    pool: Any,
    run_jobs: Any,
    worker_runtime: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    order = await paid_order(client, sandbox, settings, pool)
    registry = from_settings(settings, transport=httpx.ASGITransport(app=sandbox))
    monkeypatch.setattr(worker_runtime, "gateways", registry)
    no, trade_no = order["order_no"], order["trade_no"]
    await set_refund_outcome(sandbox, trade_no, "refund_late")
    refund_id = await ask_refund(pool, no, 400, "a")
    await run_jobs()
    await settle_submitted(pool, registry, refund_id)  # V1 cannot be asked
    await run_jobs()
    assert await refunds(pool) == [(f"{no}R01", "submitted", 400)]
    assert (await sandbox_trade(sandbox, trade_no))["refunded_cents"] == 400  # once
