"""The attempt state machine, against the database: only the table's transitions
go through, a final attempt never changes, and any sequence of supplier
answers (placement, query, callback, in any order, repeated) leaves the order
delivered if and only if its attempt succeeded."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg_pool import AsyncConnectionPool

from kameng.config import Settings
from kameng.db.connection import Conn, fetch_one, transaction
from kameng.fulfilment.supply import engine
from kameng.fulfilment.supply.protocol import Card, Outcome, SupplierAnswer
from kameng.fulfilment.supply.repository import attempt_by_id, attempts_of_order
from kameng.fulfilment.supply.states import ALLOWED, FINAL, LIVE, can_transition, transition
from kameng.kit import clock
from kameng.models.vocabulary import AttemptStatus, OrderStatus
from tests.supply.harness import current, paid_topup, setup_suppliers, supply_config

DEAD = "http://127.0.0.1:9"


def test_table_shape() -> None:
    assert set(ALLOWED) == set(AttemptStatus)
    assert {AttemptStatus.SUCCEEDED, AttemptStatus.FAILED} == FINAL
    # Nothing goes back to "created": once sent, never sent elsewhere.
    assert all(AttemptStatus.CREATED not in targets for targets in ALLOWED.values())
    for start in LIVE:  # every live attempt can still end
        assert ALLOWED[start] & FINAL


@pytest.fixture
async def unknown_attempt(pool: AsyncConnectionPool[Conn], settings: Settings) -> Any:
    # Many orders fail at the dead address in one database: keep the breaker closed.
    cfg = supply_config(settings, breaker_trip_after=1_000_000)
    await setup_suppliers(pool, cfg, DEAD, b_code=None)
    return pool, cfg, settings


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(st.sampled_from(list(AttemptStatus)), min_size=1, max_size=8))
async def test_random_transitions_follow_the_table(
    unknown_attempt: Any, steps: list[AttemptStatus]
) -> None:
    pool, cfg, shop = unknown_attempt
    order = await paid_topup(pool, shop)
    await engine.step(pool, cfg, order.id)  # sent to a dead address: unknown
    async with transaction(pool) as conn:
        [attempt] = await attempts_of_order(conn, order.id)
    state = attempt.status
    for target in steps:
        async with transaction(pool) as conn:
            moved = await transition(conn, attempt_id=attempt.id, to=target, now=clock.now())
            row = await attempt_by_id(conn, attempt.id)
        assert moved == can_transition(state, target)
        if moved:
            state = target
        assert row is not None and row.status == state
        assert (row.finished_at is not None) == (state in FINAL)


ANSWERS = st.sampled_from(
    [
        SupplierAnswer(Outcome.SUCCEEDED, voucher="V"),
        SupplierAnswer(Outcome.FAILED, message="no"),
        SupplierAnswer(Outcome.PROCESSING),
        SupplierAnswer(Outcome.UNKNOWN, reason="timeout"),
        SupplierAnswer(Outcome.NOT_FOUND),
        SupplierAnswer(Outcome.REFUSED, reason="maintenance"),
        SupplierAnswer(Outcome.SUCCEEDED, cards=(Card("N", "P"),)),
    ]
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    answers=st.lists(
        st.tuples(ANSWERS, st.sampled_from(["place", "query", "callback"])),
        min_size=1,
        max_size=10,
    )
)
async def test_any_answers_in_any_order_end_consistently(
    unknown_attempt: Any, answers: list[tuple[SupplierAnswer, str]]
) -> None:
    pool, cfg, shop = unknown_attempt
    order = await paid_topup(pool, shop)
    await engine.step(pool, cfg, order.id)
    async with transaction(pool) as conn:
        [attempt] = await attempts_of_order(conn, order.id)
    final_seen: AttemptStatus | None = None
    for answer, via in answers:
        async with transaction(pool) as conn:
            await engine.apply(conn, cfg, order.id, attempt.id, answer, via=via, now=clock.now())
            row = await attempt_by_id(conn, attempt.id)
        assert row is not None
        if final_seen is not None:
            assert row.status == final_seen  # a final attempt never changes
        elif row.status in FINAL:
            final_seen = row.status
    now = await current(pool, order.order_no)
    assert (now.status == OrderStatus.DELIVERED) == (final_seen == AttemptStatus.SUCCEEDED)
    async with transaction(pool) as conn:
        live = await fetch_one(
            conn,
            "SELECT count(*) FROM supply_attempts WHERE order_id = %(o)s "
            "AND status IN ('created', 'sent', 'unknown')",
            {"o": order.id},
        )
        events = await fetch_one(
            conn,
            "SELECT count(*) FROM order_events WHERE order_id = %(o)s AND type = 'topped_up'",
            {"o": order.id},
        )
    assert live[0] == (0 if final_seen else 1)
    assert events[0] == (1 if final_seen == AttemptStatus.SUCCEEDED else 0)
