"""The order state machine, against the database: the guarded UPDATE lets
exactly the transitions of the table through, and each leaves one event."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from kameng.kit import clock
from kameng.kit.errors import IllegalTransition
from kameng.orders.service import create_order
from kameng.orders.states import ALLOWED, FINAL, OrderStatus, can_transition, transition
from tests.factories import Sessions, create_product


def test_table_shape() -> None:
    assert set(ALLOWED) == set(OrderStatus)
    assert {OrderStatus.DELIVERED} == FINAL
    # Every state can reach "delivered": no paid order can get stuck by design.
    for start in OrderStatus:
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
async def product(db: Sessions) -> Sessions:
    await create_product(db)
    return db


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(st.sampled_from(list(OrderStatus)), min_size=1, max_size=8))
async def test_random_transition_sequences_follow_the_table(
    product: Sessions, steps: list[OrderStatus]
) -> None:
    db = product
    async with db() as s, s.begin():
        order = await create_order(
            s,
            sku="GAME-10",
            quantity=1,
            contact=None,
            query_password=None,
            gateway="epay",
            known_gateways=["epay"],
            ttl=timedelta(minutes=15),
            now=clock.now(),
        )
    current, events = OrderStatus.UNPAID, 1
    for target in steps:
        allowed = can_transition(current, target)
        try:
            async with db() as s, s.begin():
                await transition(
                    s,
                    order_id=order.id,
                    to=target,
                    event=f"to_{target}",
                    actor="test",
                    now=clock.now(),
                )
        except IllegalTransition:
            assert not allowed, (current, target)
        else:
            assert allowed, (current, target)
            current, events = target, events + 1
        async with db() as s:
            row = (
                await s.execute(
                    text(
                        "SELECT status, (SELECT count(*) FROM order_events WHERE order_id = :id) "
                        "FROM orders WHERE id = :id"
                    ),
                    {"id": order.id},
                )
            ).one()
        assert (row[0], row[1]) == (current.value, events)
