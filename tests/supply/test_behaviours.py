"""Every supplier behaviour of the sandbox, end to end: a paid top-up goes to
the supplier, and ends delivered or refunded, sent once per supplier."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool

from kameng.config import Settings
from kameng.db.connection import Conn, fetch_one, transaction
from kameng.fulfilment.strategies.registry import for_kind
from kameng.fulfilment.supply.repository import callbacks_of
from kameng.models.vocabulary import OrderStatus
from tests.supply.harness import (
    Sandbox,
    attempts,
    current,
    drive,
    event_types,
    paid_topup,
    setup_suppliers,
    supply_config,
)


@pytest.fixture
def shop(live_shop: str, live_settings: Settings) -> Settings:
    """The live shop (it receives the sandbox's callbacks); its settings."""
    return live_settings


async def _goods(pool: AsyncConnectionPool[Conn], shop: Settings, order_no: str) -> list[Any]:
    order = await current(pool, order_no)
    async with transaction(pool) as conn:
        return await for_kind(order.product_kind).goods_of(
            conn, order, cipher=shop.card_key_cipher()
        )


async def test_succeed_delivers_with_the_suppliers_voucher(
    pool: AsyncConnectionPool[Conn], shop: Settings, sandbox: Sandbox
) -> None:
    cfg = supply_config(shop)
    await setup_suppliers(pool, cfg, sandbox.url)
    order = await paid_topup(pool, shop)
    assert order.status == OrderStatus.FULFILLING
    done = await drive(pool, cfg, order)
    assert done.status == OrderStatus.DELIVERED
    assert done.delivered_quantity == 1
    assert await attempts(pool, order) == [("A", "succeeded", False)]
    [received] = sandbox.received(order.order_no)
    assert received["account"] == '{"phone": "13800138000"}'
    assert sandbox.placed(order.order_no) == 1
    [voucher] = await _goods(pool, shop, order.order_no)
    assert voucher.number == received["voucher"]
    assert await event_types(pool, order) == [
        "created", "paid", "fulfilling", "sent_to_supplier", "topped_up",
    ]  # fmt: skip


async def test_failure_at_a_switches_to_b(
    pool: AsyncConnectionPool[Conn], shop: Settings, sandbox: Sandbox
) -> None:
    cfg = supply_config(shop)
    await setup_suppliers(pool, cfg, sandbox.url, a_code="a-fail")
    sandbox.behave("fail", product="a-fail")
    order = await paid_topup(pool, shop)
    done = await drive(pool, cfg, order)
    assert done.status == OrderStatus.DELIVERED
    assert await attempts(pool, order) == [("A", "failed", False), ("B", "succeeded", False)]
    assert [o["merchant"] for o in sandbox.received(order.order_no)] == ["m-a", "m-b"]
    types = await event_types(pool, order)
    assert types.count("sent_to_supplier") == 2
    assert "supplier_switched" in types


async def test_every_supplier_failing_ends_failed_with_the_refund_due(
    pool: AsyncConnectionPool[Conn], shop: Settings, sandbox: Sandbox
) -> None:
    cfg = supply_config(shop)
    await setup_suppliers(pool, cfg, sandbox.url, a_code="a-fail", b_code="b-fail")
    sandbox.behave("fail", product="a-fail")
    sandbox.behave("fail", product="b-fail")
    order = await paid_topup(pool, shop)
    done = await drive(pool, cfg, order)
    assert done.status == OrderStatus.FAILED
    assert await attempts(pool, order) == [("A", "failed", False), ("B", "failed", False)]
    assert (await event_types(pool, order))[-2:] == ["fulfilment_failed", "refund_requested"]
    assert sandbox.placed(order.order_no) == 2  # once at each supplier
    async with transaction(pool) as conn:
        refund = await fetch_one(
            conn, "SELECT amount_cents, idempotency_key FROM refunds WHERE order_id = %(o)s",
            {"o": order.id},
        )  # fmt: skip
    assert refund == (1000, f"supply-failed:{order.order_no}")


async def test_succeed_after_n_seconds_arrives_by_callback(
    pool: AsyncConnectionPool[Conn], shop: Settings, sandbox: Sandbox
) -> None:
    cfg = supply_config(shop)
    await setup_suppliers(pool, cfg, sandbox.url, a_code="a-late", b_code=None)
    sandbox.behave("succeed_after", product="a-late", seconds=30)  # × 0.01
    order = await paid_topup(pool, shop)
    done = await drive(pool, cfg, order)
    assert done.status == OrderStatus.DELIVERED
    assert sandbox.placed(order.order_no) == 1
    verdicts: list[str] = []
    for _ in range(100):  # the callback may land just after a query delivered it
        async with transaction(pool) as conn:
            verdicts = [v for v, _ in await callbacks_of(conn, "A")]
        if verdicts:
            break
        await asyncio.sleep(0.1)
    assert verdicts and set(verdicts) <= {"accepted", "duplicate"}


@pytest.mark.parametrize("behaviour", ["timeout", "garbage", "lose_callback", "bad_callback"])
async def test_an_unknown_outcome_is_only_asked_about_never_sent_again(
    pool: AsyncConnectionPool[Conn], shop: Settings, sandbox: Sandbox, behaviour: str
) -> None:
    cfg = supply_config(shop, timeout=0.3)
    await setup_suppliers(pool, cfg, sandbox.url, a_code="a-odd")
    # timeout: the sandbox answers after 100 × 0.01 + 1 s, the client gives up at 0.3 s.
    sandbox.behave(behaviour, product="a-odd", seconds=100)
    order = await paid_topup(pool, shop)
    done = await drive(pool, cfg, order, seconds=30)
    assert done.status == OrderStatus.DELIVERED
    # Delivered by supplier A, the only one ever sent the order, once.
    assert await attempts(pool, order) == [("A", "succeeded", False)]
    assert sandbox.placed(order.order_no) == 1
    assert [o["merchant"] for o in sandbox.received(order.order_no)] == ["m-a"]
    if behaviour in ("timeout", "garbage"):
        assert "supplier_slow" in await event_types(pool, order)
    if behaviour == "bad_callback":
        async with transaction(pool) as conn:
            verdicts = [v for v, _ in await callbacks_of(conn, "A")]
        assert "bad_signature" in verdicts and "accepted" not in verdicts


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [("maintenance", "maintenance"), ("no_balance", "balance"), ("price", "price")],
)
async def test_a_refusal_buys_nothing_and_goes_to_the_next_supplier(
    pool: AsyncConnectionPool[Conn], shop: Settings, sandbox: Sandbox, behaviour: str,
    reason: str,
) -> None:  # fmt: skip
    cfg = supply_config(shop)
    await setup_suppliers(pool, cfg, sandbox.url, a_code="a-no")
    sandbox.behave(behaviour, product="a-no", seconds=600, price="99.00")
    order = await paid_topup(pool, shop)
    done = await drive(pool, cfg, order)
    assert done.status == OrderStatus.DELIVERED
    assert await attempts(pool, order) == [("A", "failed", True), ("B", "succeeded", False)]
    assert sandbox.received(order.order_no)[0]["merchant"] == "m-b"  # A created no order
    async with transaction(pool) as conn:
        from kameng.orders import repository as orders_repo

        events = await orders_repo.events_of(conn, order.id)
    switched = [e for e in events if e.type == "supplier_switched"]
    assert switched[0].params["reason"] == reason


async def test_maintenance_with_no_other_supplier_tells_the_buyer_until_when(
    pool: AsyncConnectionPool[Conn], shop: Settings, sandbox: Sandbox
) -> None:
    cfg = supply_config(shop)
    await setup_suppliers(pool, cfg, sandbox.url, a_code="a-maint", b_code=None)
    sandbox.behave("maintenance", product="a-maint", seconds=100_000)
    order = await paid_topup(pool, shop)
    from kameng.fulfilment.supply import engine

    for _ in range(3):
        await engine.step(pool, cfg, order.id)
    assert (await current(pool, order.order_no)).status == OrderStatus.FULFILLING
    async with transaction(pool) as conn:
        from kameng.orders import repository as orders_repo

        events = await orders_repo.events_of(conn, order.id)
    waiting = [e for e in events if e.type == "supplier_waiting"]
    assert len(waiting) == 1  # said once, not at every step
    assert waiting[0].params["supplier"] == "供应商A"
    assert waiting[0].params["reason"] == "maintenance"
    assert sandbox.received(order.order_no) == []


async def test_processing_for_long_is_asked_with_back_off_and_said_slow(
    pool: AsyncConnectionPool[Conn], shop: Settings, sandbox: Sandbox
) -> None:
    cfg = supply_config(shop)
    await setup_suppliers(pool, cfg, sandbox.url, a_code="a-long", b_code="b-ok")
    sandbox.behave("processing_long", product="a-long", seconds=300)  # 3 s here
    order = await paid_topup(pool, shop)
    done = await drive(pool, cfg, order, seconds=30)
    assert done.status == OrderStatus.DELIVERED
    assert await attempts(pool, order) == [("A", "succeeded", False)]  # B never asked
    assert "supplier_slow" in await event_types(pool, order)
    assert sandbox.placed(order.order_no) == 1
