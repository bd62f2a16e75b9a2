"""Card-key orders paid but short of keys: escalated at the product's SLA with a
line the buyer reads, refunded at the refund deadline unless stock came first,
and never delivered by stock that arrives after the refund."""

from __future__ import annotations

from datetime import timedelta

from psycopg_pool import AsyncConnectionPool

from kameng.catalog import repository as catalog
from kameng.config import Settings
from kameng.db.connection import Conn, fetch_all, fetch_one, transaction
from kameng.fulfilment.alerts import Alerts
from kameng.fulfilment.supply.tasks import run_deadlines
from kameng.fulfilment.tasks import _serve_waiting
from kameng.kit.clock import FrozenClock
from kameng.kit.i18n import translator
from kameng.models.vocabulary import OrderStatus
from kameng.orders import repository as orders_repo
from kameng.orders.explain import Cause, explain
from kameng.orders.repository import OrderRow
from kameng.orders.texts import event_label
from tests.factories import import_keys, key_lines, make_paid_order, make_product
from tests.supply.harness import current, event_types

EN = translator("en")
ZH = translator("zh_CN")
SLA = 600
REFUND_AFTER = 3600


async def _product(pool: AsyncConnectionPool[Conn], settings: Settings, keys: int) -> int:
    product = await make_product(pool, sku="CARD-10", price_cents=1000)
    async with transaction(pool) as conn:
        await catalog.set_supply_terms(
            conn, product.id, buyer_fields=[], sla_seconds=SLA, refund_after_seconds=REFUND_AFTER
        )
    await import_keys(pool, settings, "CARD-10", key_lines(keys, prefix="OLD"))
    return product.id


async def _deadline(pool: AsyncConnectionPool[Conn], order: OrderRow) -> object:
    async with transaction(pool) as conn:
        row = await fetch_one(
            conn, "SELECT next_deadline_at FROM orders WHERE id = %(o)s", {"o": order.id}
        )
    return row[0]


async def _refunds(pool: AsyncConnectionPool[Conn], order: OrderRow) -> list[int]:
    async with transaction(pool) as conn:
        rows = await fetch_all(
            conn, "SELECT amount_cents FROM refunds WHERE order_id = %(o)s", {"o": order.id}
        )
    return [int(r[0]) for r in rows]


async def _unsold(pool: AsyncConnectionPool[Conn]) -> int:
    async with transaction(pool) as conn:
        row = await fetch_one(conn, "SELECT count(*) FROM card_keys WHERE order_id IS NULL")
    return int(row[0])


async def _explained(pool: AsyncConnectionPool[Conn], order: OrderRow, clock: FrozenClock) -> str:
    async with transaction(pool) as conn:
        now = await orders_repo.get_by_id(conn, order.id)
        events = await orders_repo.events_of(conn, order.id)
    assert now is not None
    said = explain(now, events, EN, now=clock.now())
    assert said.cause == Cause.PROCESSING
    return said.text


async def test_waiting_for_stock_is_escalated_then_refunded_and_late_stock_not_delivered(
    pool: AsyncConnectionPool[Conn], settings: Settings, clock: FrozenClock
) -> None:
    product_id = await _product(pool, settings, keys=0)
    order = await make_paid_order(pool, settings, "CARD-10")
    paid = clock.now()
    assert order.status == OrderStatus.AWAITING_STOCK
    assert await _deadline(pool, order) == paid + timedelta(seconds=SLA)
    alerts = Alerts(())
    clock.advance(seconds=SLA - 1)
    assert await run_deadlines(pool, alerts) == 0
    clock.advance(seconds=1)
    assert await run_deadlines(pool, alerts) == 1
    assert (await event_types(pool, order))[-1] == "escalated"
    assert (await current(pool, order.order_no)).status == OrderStatus.AWAITING_STOCK
    assert await _deadline(pool, order) == paid + timedelta(seconds=REFUND_AFTER)
    # The buyer reads when the refund comes (paid 12:00 UTC + 1 h = 21:00 Beijing time).
    async with transaction(pool) as conn:
        escalated = (await orders_repo.events_of(conn, order.id))[-1]
    assert event_label(escalated.type, escalated.params, EN) == (
        "Still out of stock, later than promised; the shop's staff have been alerted. "
        "Refunded automatically at 2026-11-25 21:00 unless the keys arrive first"
    )
    assert "2026-11-25 21:00" in event_label(escalated.type, escalated.params, ZH)
    assert "by 21:00 (Beijing time), you are refunded" in await _explained(pool, order, clock)
    assert await _refunds(pool, order) == []

    clock.advance(seconds=REFUND_AFTER - SLA)
    assert await run_deadlines(pool, alerts) == 1
    done = await current(pool, order.order_no)
    assert done.status == OrderStatus.FAILED
    assert (await event_types(pool, order))[-2:] == ["fulfilment_failed", "refund_requested"]
    assert await _refunds(pool, order) == [1000]
    assert await _deadline(pool, order) is None

    # Stock arrives after the refund: the refunded order gets none of it.
    await import_keys(pool, settings, "CARD-10", key_lines(1, prefix="LATE"))
    await _serve_waiting(pool, product_id)
    after = await current(pool, order.order_no)
    assert (after.status, after.delivered_quantity) == (OrderStatus.FAILED, 0)
    assert await _unsold(pool) == 1
    assert await run_deadlines(pool, alerts) == 0


async def test_stock_arriving_before_the_refund_deadline_delivers_and_nothing_is_refunded(
    pool: AsyncConnectionPool[Conn], settings: Settings, clock: FrozenClock
) -> None:
    product_id = await _product(pool, settings, keys=0)
    order = await make_paid_order(pool, settings, "CARD-10")
    clock.advance(seconds=SLA)
    assert await run_deadlines(pool, Alerts(())) == 1  # escalated
    await import_keys(pool, settings, "CARD-10", key_lines(1, prefix="NEW"))
    await _serve_waiting(pool, product_id)
    done = await current(pool, order.order_no)
    assert (done.status, done.delivered_quantity) == (OrderStatus.DELIVERED, 1)
    assert await _deadline(pool, order) is None
    clock.advance(seconds=REFUND_AFTER)
    assert await run_deadlines(pool, Alerts(())) == 0
    assert (await current(pool, order.order_no)).status == OrderStatus.DELIVERED
    assert await _refunds(pool, order) == []


async def test_a_partly_delivered_order_is_refunded_for_the_missing_keys_only(
    pool: AsyncConnectionPool[Conn], settings: Settings, clock: FrozenClock
) -> None:
    await _product(pool, settings, keys=1)
    order = await make_paid_order(pool, settings, "CARD-10", quantity=3)
    assert (order.status, order.delivered_quantity) == (OrderStatus.AWAITING_STOCK, 1)
    clock.advance(seconds=REFUND_AFTER)
    assert await run_deadlines(pool, Alerts(())) == 1
    done = await current(pool, order.order_no)
    assert (done.status, done.delivered_quantity) == (OrderStatus.FAILED, 1)
    assert await _refunds(pool, order) == [2000]  # two of three keys at ¥10
    async with transaction(pool) as conn:
        failed = (await orders_repo.events_of(conn, order.id))[-2]
    assert event_label(failed.type, failed.params, EN) == (
        "Could not be fulfilled in full (out of stock past the deadline); "
        "the undelivered part is refunded"
    )


async def test_a_delivered_card_key_order_has_no_deadline(
    pool: AsyncConnectionPool[Conn], settings: Settings, clock: FrozenClock
) -> None:
    await _product(pool, settings, keys=1)
    order = await make_paid_order(pool, settings, "CARD-10")
    assert order.status == OrderStatus.DELIVERED
    assert await _deadline(pool, order) is None
