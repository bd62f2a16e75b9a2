"""What the e2e tests through the Alipay and 易支付 V2 sandboxes share: the shop
and a sandbox wired to each other over ASGI, waiting for an order's status,
paying by script or on the cashier, and the 对账 case where a payment the shop
never heard of is repaired and the other differences are flagged."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import text

from kameng.config import Settings
from kameng.kit import clock
from kameng.payments.gateways.base import PayRequest
from kameng.payments.gateways.registry import from_settings
from kameng.payments.reconcile import repository
from kameng.payments.reconcile.service import reconcile
from kameng.web.app import create_app
from tests.factories import Sessions, add_keys, count, create_product, make_order, pay, place_order
from tests.factories import transaction as tx
from tests.support import wait_for

# Opens the sandbox's cashier for an order (a place_order answer); its trade number.
Cashier = Callable[[dict[str, Any]], Awaitable[str]]


@asynccontextmanager
async def shop_and_sandbox(
    shop_settings: Settings,
    pool: Any,
    worker_runtime: Any,
    monkeypatch: pytest.MonkeyPatch,
    *,
    client_port: int,
    sandbox_url: str,
    make_sandbox: Callable[[httpx.AsyncBaseTransport], Any],
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient, Any]]:
    """The buyer's clients to the shop and to the sandbox, and the sandbox app,
    which notifies the shop and which the worker's gateways call."""
    shop = create_app(shop_settings, pool=pool)
    shop_transport = httpx.ASGITransport(
        app=shop, client=("127.0.0.1", client_port), raise_app_exceptions=False
    )
    sandbox = make_sandbox(shop_transport)
    registry = from_settings(shop_settings, transport=httpx.ASGITransport(app=sandbox))
    monkeypatch.setattr(worker_runtime, "gateways", registry)
    async with (
        httpx.AsyncClient(transport=shop_transport, base_url="http://shop.test") as buyer_shop,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=sandbox), base_url=sandbox_url
        ) as buyer,
    ):
        yield buyer_shop, buyer, sandbox
    await sandbox.state.aclose()


async def order_status(shop: httpx.AsyncClient, order_no: str) -> dict[str, Any]:
    body: dict[str, Any] = (await shop.get(f"/api/shop/orders/{order_no}")).json()
    return body


async def wait_delivered(shop: httpx.AsyncClient, order_no: str) -> None:
    async def delivered() -> bool:
        return bool((await order_status(shop, order_no))["status"] == "delivered")

    await wait_for(delivered)


async def notify_log(db: Sessions) -> list[tuple[Any, ...]]:
    """(http_method, verdict, trade_no) of every payment_notifies row."""
    async with db() as s:
        rows = (
            await s.execute(text("SELECT http_method, verdict, trade_no FROM payment_notifies"))
        ).all()
    return [tuple(r) for r in rows]


async def trade_after_restart(app: Any, sandbox_url: str, trade_no: str) -> dict[str, Any]:
    """The trade as a sandbox ``app`` started again on the same state file shows it."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=sandbox_url
    ) as restarted:
        trade: dict[str, Any] = (await restarted.get(f"/sandbox/trades/{trade_no}")).json()
    await app.state.aclose()
    return trade


async def check_return_url_asks_at_once(
    *,
    shop: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    channel: str,
    cashier: Cashier,
    return_query: str,
    db: Sessions,
    settings: Settings,
    run_jobs: Any,
    clock: Any,
    debounce_seconds: int = 0,
) -> None:
    """A silent payment is found as soon as the buyer comes back through the
    return URL (whatever ``return_query`` the gateway appends, signed or not);
    coming back again and the minute sweep ask nothing more once it is paid."""
    await add_keys(db, settings, await create_product(db, price_cents=1050), 1)
    order = await place_order(shop, gateway=channel)
    trade_no = await cashier(order)
    await sandbox.post(f"/sandbox/trades/{trade_no}/pay", data={"outcome": "silent"})
    if debounce_seconds:
        clock.advance(seconds=debounce_seconds)
    back = await shop.get(f"/o/{order['order_no']}/return?{return_query}")
    assert (back.status_code, back.headers["location"]) == (303, f"/o/{order['order_no']}")
    await run_jobs()
    assert (await order_status(shop, order["order_no"]))["status"] == "delivered"
    for _ in range(2):  # back again, and the minute sweep: paid, nobody asks
        clock.advance(minutes=1)
        await shop.get(f"/o/{order['order_no']}/return")
        await run_jobs()
    assert await notify_log(db) == [("QUERY", "accepted", trade_no)]
    assert await count(db, "SELECT count(*) FROM payments") == 1


def today() -> Any:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


async def paid_by_script(
    shop: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    gateway: str,
    cashier: Cashier,
    outcome: str,
) -> dict[str, Any]:
    """An order paid through ``/sandbox/trades/{no}/pay`` with ``outcome``; the
    place_order answer with the sandbox's ``trade_no``."""
    order = await place_order(shop, gateway=gateway)
    order["trade_no"] = await cashier(order)
    answer = await sandbox.post(
        f"/sandbox/trades/{order['trade_no']}/pay", data={"outcome": outcome}
    )
    assert answer.json()["paid_now"] is True
    return order


async def paid_on_cashier(
    db: Sessions,
    settings: Settings,
    shop: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    gateway: str,
    cashier: Cashier,
    refund_outcome: str,
) -> tuple[str, str]:
    """A ¥10.50 card-key order paid and delivered, with the outcome its refunds
    will have picked on the cashier with the payment (the demo's way); the order
    number and the sandbox's trade number."""
    await add_keys(db, settings, await create_product(db, price_cents=1050), 1)
    order = await place_order(shop, gateway=gateway)
    trade_no = await cashier(order)
    await sandbox.post(
        f"/sandbox/pay/{trade_no}", data={"outcome": "notify", "refund_outcome": refund_outcome}
    )
    await wait_delivered(shop, order["order_no"])
    return order["order_no"], trade_no


async def check_repairs_and_flags(
    *,
    shop: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    sandbox_url: str,
    cashier: Cashier,
    gateway: Any,
    channel: str,
    pay_link: Callable[[PayRequest], str],
    stranger_no: str,
    ghost_trade_no: str,
    evidence: tuple[str, str],
    db: Sessions,
    settings: Settings,
    pool: Any,
) -> None:
    """Reconcile today against the gateway's list of payments: a payment the shop
    was never told about is repaired (and delivered); a wrong amount, a payment
    for an order number the shop never issued (``stranger_no``) and a payment
    the gateway lacks (``ghost_trade_no``) are flagged, the amount mismatch with
    the gateway's line as evidence (``evidence``: a field and its value); a
    second run repairs nothing twice."""
    await add_keys(db, settings, await create_product(db, price_cents=1050), 3)
    silent = await paid_by_script(shop, sandbox, channel, cashier, "silent")  # never notified
    known = await paid_by_script(shop, sandbox, channel, cashier, "notify")
    await wait_delivered(shop, known["order_no"])
    async with tx(pool) as conn:  # as if our row had been tampered with
        await conn.execute(
            "UPDATE payments SET amount_cents = 1000 WHERE trade_no = %(t)s",
            {"t": known["trade_no"]},
        )
    # Paid at the gateway for an order number the shop never issued.
    link = pay_link(
        PayRequest(stranger_no, 777, "别处的订单", "http://x.test/n", "http://x.test/r")
    )
    assert (await sandbox.get(link.removeprefix(sandbox_url))).status_code == 200
    await sandbox.post(f"/sandbox/trades/{stranger_no}/pay", data={"outcome": "silent"})
    # And a payment we hold that the gateway never had.
    ghost = await make_order(pool)
    await pay(pool, settings, ghost, trade_no=ghost_trade_no)
    async with tx(pool) as conn:
        await conn.execute(
            "UPDATE payments SET gateway = %(g)s WHERE trade_no = %(t)s",
            {"g": channel, "t": ghost_trade_no},
        )

    day = today()
    run_id = await reconcile(pool, gateway, day, clock.now())
    async with tx(pool) as conn:
        findings = await repository.findings_of(conn, run_id)
        cur = await conn.execute(
            "SELECT channel, gateway_lines, local_payments, error FROM reconciliation_runs "
            "WHERE id = %(r)s",
            {"r": run_id},
        )
        run = await cur.fetchone()
    assert run == (channel, 3, 2, None)
    order = ["repaired", "not_repaired", "amount_mismatch", "missing_at_gateway"]
    findings.sort(key=lambda f: order.index(f[0]))
    assert [f[:5] for f in findings] == [
        ("repaired", silent["order_no"], silent["trade_no"], None, 1050),
        ("not_repaired", stranger_no, findings[1][2], None, 777),
        ("amount_mismatch", known["order_no"], known["trade_no"], 1000, 1050),
        ("missing_at_gateway", ghost.order_no, ghost_trade_no, ghost.amount_cents, None),
    ]
    assert findings[1][5]["verdict"] == "unknown_order"
    field, value = evidence
    assert findings[2][5]["bill"][field] == value  # the gateway's line is the evidence
    assert (await order_status(shop, silent["order_no"]))["status"] == "delivered"

    again = await reconcile(pool, gateway, day, clock.now())  # nothing repaired twice
    async with tx(pool) as conn:
        kinds = sorted(f[0] for f in await repository.findings_of(conn, again))
    assert kinds == ["amount_mismatch", "missing_at_gateway", "not_repaired"]
    assert await count(db, f"SELECT count(*) FROM payments WHERE gateway = '{channel}'") == 3
