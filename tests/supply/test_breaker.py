"""Health per supplier and the circuit breaker: a supplier that keeps failing is
not sent new orders until its breaker's time is up; then one order probes it."""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool

from kameng.config import Settings
from kameng.db.connection import Conn, transaction
from kameng.fulfilment.supply import admin, engine
from kameng.kit.clock import FrozenClock
from kameng.models.vocabulary import OrderStatus
from tests.supply.harness import (
    Sandbox,
    attempts,
    drive,
    paid_topup,
    setup_suppliers,
    supply_config,
)


async def test_a_failing_supplier_is_skipped_until_its_breaker_lets_one_probe_through(
    pool: AsyncConnectionPool[Conn], settings: Settings, sandbox: Sandbox, clock: FrozenClock
) -> None:
    cfg = supply_config(settings, breaker_trip_after=2, breaker_open_seconds=6000)  # 60 s
    await setup_suppliers(pool, cfg, sandbox.url)
    async with transaction(pool) as conn:  # A stops answering at all
        await admin.update(conn, cfg, code="A", now=clock.now(), base_url="http://127.0.0.1:9")
    first = await paid_topup(pool, settings)
    await engine.step(pool, cfg, first.id)  # no answer: unknown (1 failure)
    clock.advance(seconds=1)
    await engine.step(pool, cfg, first.id)  # asked: no answer again (2: the breaker opens)
    async with transaction(pool) as conn:
        [a, b] = await admin.views(conn)
    assert a.supplier.code == "A" and a.supplier.breaker_open_until is not None
    assert a.supplier.consecutive_failures == 2 and a.success_rate == 0.0
    assert a.supplier.last_error is not None and a.supplier.last_error.startswith("network")
    assert b.supplier.breaker_open_until is None

    second = await paid_topup(pool, settings)
    assert (await drive(pool, cfg, second)).status == OrderStatus.DELIVERED
    assert await attempts(pool, second) == [("B", "succeeded", False)]  # A skipped
    assert await attempts(pool, first) == [("A", "unknown", False)]  # never re-sent to B

    clock.advance(seconds=61)  # the breaker's time is up: one probe goes to A
    third = await paid_topup(pool, settings)
    await engine.step(pool, cfg, third.id)
    assert await attempts(pool, third) == [("A", "unknown", False)]
