"""Risk review: paid orders matching a rule are held (not fulfilled) with a reason
the buyer reads, decided by an operator (approve → fulfilled; reject →
refunded), escalated past the review SLA; ``kameng review …``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from psycopg_pool import AsyncConnectionPool
from typer.testing import CliRunner

from kameng.cli import app
from kameng.config import Settings, get_settings
from kameng.db.connection import Conn, fetch_all, fetch_one, transaction
from kameng.fulfilment.alerts import Alerts
from kameng.fulfilment.review import repository as review_repo
from kameng.fulfilment.review import service as review
from kameng.fulfilment.review.tasks import run_review_deadlines
from kameng.fulfilment.supply.tasks import run_deadlines
from kameng.kit import clock
from kameng.kit.clock import FrozenClock
from kameng.kit.i18n import translator
from kameng.models.vocabulary import OrderStatus
from kameng.orders import repository as orders_repo
from kameng.orders.errors import OrderNotFound
from kameng.orders.explain import Cause, explain
from kameng.orders.repository import OrderRow
from kameng.orders.texts import event_label
from tests.factories import make_paid_order, make_stocked_product
from tests.supply.harness import current, event_types

EN = translator("en")
ZH = translator("zh_CN")


async def _rules(
    pool: AsyncConnectionPool[Conn], *, above: int | None = None, contact_max: int | None = None
) -> None:
    async with transaction(pool) as conn:
        await review_repo.set_rules(
            conn, above_cents=above, contact_max=contact_max, window_seconds=3600,
            review_sla_seconds=1800, now=clock.now(),
        )  # fmt: skip


async def _sold_keys(pool: AsyncConnectionPool[Conn], order: OrderRow) -> int:
    async with transaction(pool) as conn:
        row = await fetch_one(
            conn, "SELECT count(*) FROM card_keys WHERE order_id = %(o)s", {"o": order.id}
        )
    return int(row[0])


async def _refunds(pool: AsyncConnectionPool[Conn], order: OrderRow) -> list[int]:
    async with transaction(pool) as conn:
        rows = await fetch_all(
            conn, "SELECT amount_cents FROM refunds WHERE order_id = %(o)s", {"o": order.id}
        )
    return [int(r[0]) for r in rows]


async def test_an_order_above_the_amount_is_held_with_a_reason_the_buyer_reads(
    pool: AsyncConnectionPool[Conn], settings: Settings, clock: FrozenClock
) -> None:
    await make_stocked_product(pool, settings, keys=5, price_cents=1000)
    await _rules(pool, above=2000)
    small = await make_paid_order(pool, settings, quantity=2)  # ¥20: not above
    assert small.status == OrderStatus.DELIVERED
    big = await make_paid_order(pool, settings, quantity=3)  # ¥30
    assert big.status == OrderStatus.UNDER_REVIEW
    assert await _sold_keys(pool, big) == 0  # no goods while held
    assert await event_types(pool, big) == ["created", "paid", "risk_held"]
    async with transaction(pool) as conn:
        events = await orders_repo.events_of(conn, big.id)
    held = events[-1]
    assert held.params == {
        "reason": "amount",
        "until": (clock.now() + timedelta(seconds=1800)).isoformat(),
    }
    assert event_label(held.type, held.params, EN) == (
        "Payment received; held for a security check (a large amount) before delivery, "
        "decided by 2026-11-25 20:30"
    )
    assert "金额较大" in event_label(held.type, held.params, ZH)
    said = explain(big, events, EN, now=clock.now())
    assert said.cause == Cause.RISK_HOLD
    assert said.title == "Held for a security check"
    assert "decided by 20:30 (Beijing time)" in said.text
    assert said.expected_at == clock.now() + timedelta(seconds=1800)


async def test_without_rules_nothing_is_held(
    pool: AsyncConnectionPool[Conn], settings: Settings
) -> None:
    await make_stocked_product(pool, settings, keys=2)
    order = await make_paid_order(pool, settings, quantity=2, contact="a@example.com")
    assert order.status == OrderStatus.DELIVERED


async def test_a_contact_paying_too_often_is_held(
    pool: AsyncConnectionPool[Conn], settings: Settings
) -> None:
    await make_stocked_product(pool, settings, keys=5)
    await _rules(pool, contact_max=2)
    first = await make_paid_order(pool, settings, contact="Buyer@Example.com")
    second = await make_paid_order(pool, settings, contact="buyer@example.com")
    third = await make_paid_order(pool, settings, contact="buyer@example.com ")
    other = await make_paid_order(pool, settings, contact="other@example.com")
    assert [o.status for o in (first, second, third, other)] == [
        OrderStatus.DELIVERED, OrderStatus.DELIVERED, OrderStatus.UNDER_REVIEW,
        OrderStatus.DELIVERED,
    ]  # fmt: skip
    async with transaction(pool) as conn:
        held = (await orders_repo.events_of(conn, third.id))[-1]
    assert held.params["reason"] == "velocity"


async def test_approve_fulfils_and_reject_refunds_and_a_wrong_state_changes_nothing(
    pool: AsyncConnectionPool[Conn], settings: Settings
) -> None:
    await make_stocked_product(pool, settings, keys=5, price_cents=1000)
    await _rules(pool, above=500)
    one = await make_paid_order(pool, settings)
    two = await make_paid_order(pool, settings)
    async with transaction(pool) as conn:
        assert [r.order_no for r in await review_repo.held(conn)] == [one.order_no, two.order_no]
        await review.approve(conn, one.order_no, now=clock.now())
    approved = await current(pool, one.order_no)
    assert (approved.status, approved.delivered_quantity) == (OrderStatus.DELIVERED, 1)
    assert (await event_types(pool, one))[-2:] == ["review_approved", "delivered"]
    async with transaction(pool) as conn:
        refund_no = await review.reject(conn, two.order_no, reason="stolen card", now=clock.now())
    assert refund_no
    rejected = await current(pool, two.order_no)
    assert rejected.status == OrderStatus.FAILED
    assert (await event_types(pool, two))[-2:] == ["review_rejected", "refund_requested"]
    assert await _refunds(pool, two) == [1000] and await _sold_keys(pool, two) == 0
    async with transaction(pool) as conn:
        assert await review_repo.held(conn) == []
    # Neither can be decided again; nothing changes.
    for decide in (
        lambda c: review.approve(c, two.order_no, now=clock.now()),
        lambda c: review.reject(c, one.order_no, reason="x", now=clock.now()),
    ):
        with pytest.raises(review.NotUnderReview):
            async with transaction(pool) as conn:
                await decide(conn)
    with pytest.raises(OrderNotFound):
        async with transaction(pool) as conn:
            await review.approve(conn, "1234567890123452", now=clock.now())
    assert (await current(pool, two.order_no)).status == OrderStatus.FAILED
    assert await _refunds(pool, two) == [1000] and await _refunds(pool, one) == []


async def test_past_the_review_sla_the_staff_are_alerted_and_the_buyer_told_once(
    pool: AsyncConnectionPool[Conn], settings: Settings, clock: FrozenClock
) -> None:
    await make_stocked_product(pool, settings, keys=1, price_cents=1000)
    await _rules(pool, above=500)
    order = await make_paid_order(pool, settings)
    alerts = Alerts(())
    clock.advance(seconds=1799)
    assert await run_review_deadlines(pool, alerts) == 0
    clock.advance(seconds=1)
    assert await run_deadlines(pool, alerts) == 0  # the supply sweep leaves it alone
    assert await run_review_deadlines(pool, alerts) == 1
    assert (await event_types(pool, order))[-1] == "escalated"
    async with transaction(pool) as conn:
        events = await orders_repo.events_of(conn, order.id)
    assert event_label(events[-1].type, events[-1].params, EN) == (
        "The security check takes longer than promised; the shop's staff have been alerted"
    )
    assert explain(order, events, EN, now=clock.now()).cause == Cause.RISK_HOLD
    clock.advance(seconds=3600)
    assert await run_review_deadlines(pool, alerts) == 1  # reminded, not re-told
    assert (await event_types(pool, order)).count("escalated") == 1
    assert (await current(pool, order.order_no)).status == OrderStatus.UNDER_REVIEW


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[str]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("KAMENG_SECRET_KEY", "cli-test-secret-" + "s" * 32)
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_review_commands(cli_env: str, settings: Settings) -> None:
    assert _run("review", "rules") == (0, "no risk rule: paid orders are fulfilled at once\n")
    code, out = _run("review", "rules", "--above", "abc")
    assert code == 2 and "not an amount in yuan: abc" in out
    code, out = _run("review", "rules", "--above", "15.00", "--sla-minutes", "20")
    assert (code, out) == (0, "hold orders above ¥15.00\ndecide within 20 min\n")
    asyncio.run(make_stocked_product(cli_env, settings, keys=3, price_cents=1000))
    held = asyncio.run(make_paid_order(cli_env, settings, quantity=2, contact="a@b.cn"))
    assert held.status == OrderStatus.UNDER_REVIEW
    code, out = _run("review", "list", "--json")
    assert code == 0
    [row] = [json.loads(line) for line in out.splitlines()]
    assert (row["order_no"], row["amount"], row["reason"]) == (held.order_no, "20.00", "amount")
    code, out = _run("review", "reject", held.order_no)
    assert code == 2  # --reason is required
    code, out = _run("review", "approve", "1234567890123452")
    assert code == 1
    code, out = _run("review", "reject", held.order_no, "--reason", "chargeback risk")
    assert code == 0 and out.startswith(f"order {held.order_no} rejected: refund ")
    code, out = _run("review", "approve", held.order_no)
    assert code == 1 and f"订单 {held.order_no} 不在审核中" in out  # the CLI speaks the locale
    assert _run("review", "list") == (0, "no order is held for review\n")
    assert (
        _run("review", "rules", "--off")[1] == "no risk rule: paid orders are fulfilled at once\n"
    )
