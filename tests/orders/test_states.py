"""The order state machine, against the database: the guarded UPDATE lets
exactly the transitions of the table through, and each leaves one event."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kameng.db.connection import fetch_one, transaction
from kameng.kit import clock
from kameng.kit.passwords import QueryPasswords
from kameng.orders.errors import IllegalTransition
from kameng.orders.service import create_order
from kameng.orders.states import (
    ALLOWED,
    FINAL,
    Actor,
    OrderEventType,
    OrderStatus,
    can_transition,
    transition,
)
from tests.factories import Sessions, make_product


def test_table_shape() -> None:
    assert set(ALLOWED) == set(OrderStatus)
    # Every paid order ends delivered, or failed (refunded) when it cannot be fulfilled.
    assert {OrderStatus.DELIVERED, OrderStatus.FAILED} == FINAL
    # Every other state can reach "delivered": no paid order can get stuck by design.
    for start in set(OrderStatus) - FINAL:
        seen, frontier = {start}, [start]
        while frontier:
            for nxt in ALLOWED[frontier.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    frontier.append(nxt)
        assert OrderStatus.DELIVERED in seen, start
    assert not can_transition(OrderStatus.DELIVERED, OrderStatus.UNPAID)
    assert not can_transition(OrderStatus.UNPAID, OrderStatus.DELIVERED)


@pytest.fixture
async def product(db: Sessions, pool: Any) -> Any:
    await make_product(db)
    return pool


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(st.sampled_from(list(OrderStatus)), min_size=1, max_size=8))
async def test_random_transition_sequences_follow_the_table(
    product: Any, steps: list[OrderStatus]
) -> None:
    pool = product
    async with transaction(pool) as conn:
        order = await create_order(
            conn,
            sku="GAME-10",
            quantity=1,
            contact=None,
            query_password=None,
            passwords=QueryPasswords(b"k" * 32),
            gateway="epay",
            known_gateways=["epay"],
            ttl=timedelta(minutes=15),
            now=clock.now(),
        )
    current, events = OrderStatus.UNPAID, 1
    for target in steps:
        allowed = can_transition(current, target)
        try:
            async with transaction(pool) as conn:
                await transition(
                    conn,
                    order_id=order.id,
                    to=target,
                    # Any known event type: the table under test is about statuses.
                    event=OrderEventType.PAID,
                    actor=Actor.SYSTEM,
                    now=clock.now(),
                )
        except IllegalTransition:
            assert not allowed, (current, target)
        else:
            assert allowed, (current, target)
            current, events = target, events + 1
        async with transaction(pool) as conn:
            row = await fetch_one(
                conn,
                "SELECT status, (SELECT count(*) FROM order_events WHERE order_id = %(id)s) "
                "FROM orders WHERE id = %(id)s",
                {"id": order.id},
            )
        assert (row[0], row[1]) == (current.value, events)
