"""Deadlines from payment: escalated at the SLA (timeline + alert), refunded at
the refund deadline unless an attempt's outcome is still unknown."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from psycopg_pool import AsyncConnectionPool

from kameng.config import Settings
from kameng.db.connection import Conn, fetch_one, transaction
from kameng.fulfilment.alerts import Alert, Alerts, EmailAlerts
from kameng.fulfilment.supply import engine
from kameng.fulfilment.supply.protocol import Outcome, SupplierAnswer
from kameng.fulfilment.supply.tasks import run_deadlines
from kameng.kit.clock import FrozenClock
from kameng.models.vocabulary import OrderStatus, ProductKind
from tests.supply.harness import (
    attempts,
    current,
    event_types,
    paid_topup,
    setup_suppliers,
    supply_config,
)

DEAD = "http://127.0.0.1:9"


@dataclass
class Recorded:
    sent: list[Alert] = field(default_factory=list)

    async def send(self, alert: Alert) -> None:
        self.sent.append(alert)


async def _deadline(pool: AsyncConnectionPool[Conn], order_id: int) -> object:
    async with transaction(pool) as conn:
        row = await fetch_one(
            conn, "SELECT next_deadline_at FROM orders WHERE id = %(o)s", {"o": order_id}
        )
    return row[0]


async def test_manual_order_is_escalated_then_refunded(
    pool: AsyncConnectionPool[Conn], settings: Settings, clock: FrozenClock
) -> None:
    await setup_suppliers(
        pool, supply_config(settings), DEAD, sku="MANUAL", kind=ProductKind.MANUAL, a_code=None,
        b_code=None, sla_seconds=60, refund_after_seconds=600,
    )  # fmt: skip
    order = await paid_topup(pool, settings, sku="MANUAL", fields={})
    paid = clock.now()
    recorded = Recorded()
    alerts = Alerts((recorded,))
    assert await run_deadlines(pool, alerts) == 0  # nothing due yet
    clock.advance(seconds=61)
    assert await run_deadlines(pool, alerts) == 1
    assert (await event_types(pool, order))[-1] == "escalated"
    assert await _deadline(pool, order.id) == paid + timedelta(seconds=600)
    assert recorded.sent[0].order_no == order.order_no
    assert await run_deadlines(pool, alerts) == 0  # escalated once
    clock.advance(seconds=600)
    assert await run_deadlines(pool, alerts) == 1
    done = await current(pool, order.order_no)
    assert done.status == OrderStatus.FAILED
    assert (await event_types(pool, order))[-2:] == ["fulfilment_failed", "refund_requested"]
    assert await _deadline(pool, order.id) is None
    assert "refunded" in recorded.sent[-1].subject


async def test_an_unknown_outcome_is_never_refunded_only_escalated_again(
    pool: AsyncConnectionPool[Conn], settings: Settings, clock: FrozenClock
) -> None:
    cfg = supply_config(settings)
    await setup_suppliers(pool, cfg, DEAD, b_code=None, sla_seconds=60, refund_after_seconds=120)
    order = await paid_topup(pool, settings)
    await engine.step(pool, cfg, order.id)  # the dead address: outcome unknown
    assert await attempts(pool, order) == [("A", "unknown", False)]
    recorded = Recorded()
    clock.advance(seconds=3600)
    await run_deadlines(pool, Alerts((recorded,)))
    assert (await current(pool, order.order_no)).status == OrderStatus.FULFILLING
    assert (await event_types(pool, order))[-1] == "escalated"
    assert "supplier's answer is still unknown" in recorded.sent[0].body
    async with transaction(pool) as conn:
        refunds = await fetch_one(
            conn, "SELECT count(*) FROM refunds WHERE order_id = %(o)s", {"o": order.id}
        )
    assert refunds[0] == 0


async def _attempt_id(pool: AsyncConnectionPool[Conn], order_id: int) -> int:
    async with transaction(pool) as conn:
        row = await fetch_one(
            conn, "SELECT id FROM supply_attempts WHERE order_id = %(o)s", {"o": order_id}
        )
    return int(row[0])


async def test_an_attempt_failing_after_the_refund_deadline_refunds_at_once(
    pool: AsyncConnectionPool[Conn], settings: Settings, clock: FrozenClock
) -> None:
    """The chaos run's open order: the refund deadline came while an attempt was in
    flight (the sweep may only escalate then); when that attempt fails, the engine
    refunds at once instead of trying the next supplier, and the hourly reminder
    is not what ends the order."""
    cfg = supply_config(settings)
    await setup_suppliers(pool, cfg, DEAD, sla_seconds=60, refund_after_seconds=120)
    order = await paid_topup(pool, settings)
    await engine.step(pool, cfg, order.id)  # the dead address: in flight, outcome unknown
    clock.advance(seconds=121)
    await run_deadlines(pool, Alerts(()))
    assert (await current(pool, order.order_no)).status == OrderStatus.FULFILLING
    assert await _deadline(pool, order.id) == clock.now() + timedelta(hours=1)
    async with transaction(pool) as conn:
        await engine.apply(
            conn, cfg, order.id, await _attempt_id(pool, order.id),
            SupplierAnswer(Outcome.FAILED, message="no such number"), via="query",
            now=clock.now(),
        )  # fmt: skip
    assert await engine.step(pool, cfg, order.id) is None
    done = await current(pool, order.order_no)
    assert done.status == OrderStatus.FAILED
    assert await attempts(pool, order) == [("A", "failed", False)]  # B was never asked
    assert (await event_types(pool, order))[-2:] == ["fulfilment_failed", "refund_requested"]
    assert await _deadline(pool, order.id) is None


async def test_before_the_refund_deadline_a_failure_still_switches_supplier(
    pool: AsyncConnectionPool[Conn], settings: Settings, clock: FrozenClock
) -> None:
    cfg = supply_config(settings)
    await setup_suppliers(pool, cfg, DEAD, sla_seconds=60, refund_after_seconds=120)
    order = await paid_topup(pool, settings)
    await engine.step(pool, cfg, order.id)
    clock.advance(seconds=119)
    async with transaction(pool) as conn:
        await engine.apply(
            conn, cfg, order.id, await _attempt_id(pool, order.id),
            SupplierAnswer(Outcome.FAILED, message="no such number"), via="query",
            now=clock.now(),
        )  # fmt: skip
    await engine.step(pool, cfg, order.id)
    assert (await current(pool, order.order_no)).status == OrderStatus.FULFILLING
    assert await attempts(pool, order) == [("A", "failed", False), ("B", "unknown", False)]


async def test_email_alerts_are_a_no_op_without_smtp_settings() -> None:
    channel = EmailAlerts(host=None, port=587, sender="a@b", recipients=())
    assert not channel.configured
    await channel.send(Alert("s", "b"))  # returns without trying to connect
