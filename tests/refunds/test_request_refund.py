"""request_refund: the decision, under the order's lock, capped by the database."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest

from kameng.config import Settings
from kameng.db.connection import fetch_all, fetch_one
from kameng.kit import clock
from kameng.models.vocabulary import Actor, OrderEventType, RefundState
from kameng.payments.refunds.service import request_refund
from kameng.refunds.errors import (
    IdempotencyKeyReused,
    NothingPaid,
    RefundAmountInvalid,
    RefundExceedsPaid,
    RefundOrderNotFound,
)
from kameng.refunds.repository import RefundRow
from tests.factories import count, make_order, make_paid_order, make_stocked_product, transaction


async def _refund(pool: Any, order_id: int, amount: int | None, key: str) -> RefundRow:
    async with transaction(pool) as conn:
        return await request_refund(
            conn,
            order_id=order_id,
            amount_cents=amount,
            reason="buyer asked",
            idempotency_key=key,
            actor=Actor.OPERATOR,
            now=clock.now(),
        )


@pytest.fixture
async def paid(pool: Any, settings: Settings) -> Any:
    await make_stocked_product(pool, settings, keys=2, price_cents=1000)
    return await make_paid_order(pool, settings, quantity=2)  # ¥20.00


async def test_full_refund_by_default(pool: Any, paid: Any) -> None:
    refund = await _refund(pool, paid.id, None, "k1")
    assert (refund.amount_cents, refund.state, refund.actor) == (
        2000,
        RefundState.REQUESTED,
        Actor.OPERATOR,
    )
    assert refund.refund_no == f"{paid.order_no}R01"
    async with transaction(pool) as conn:
        events = await fetch_all(
            conn,
            "SELECT type, actor, params->>'amount_cents' FROM order_events "
            "WHERE order_id = %(o)s AND type LIKE 'refund%%'",
            {"o": paid.id},
        )
        jobs = await fetch_all(
            conn,
            "SELECT task_name, args->>'refund_id' FROM procrastinate_jobs "
            "WHERE task_name = 'payments.execute_refund'",
        )
        claimed = await fetch_one(
            conn,
            "SELECT refunds_claimed_cents FROM payments WHERE order_id = %(o)s",
            {"o": paid.id},
        )
    assert events == [(OrderEventType.REFUND_REQUESTED.value, "operator", "2000")]
    assert jobs == [("payments.execute_refund", str(refund.id))]
    assert claimed == (2000,)


async def test_partial_refunds_up_to_the_payment(pool: Any, paid: Any) -> None:
    first = await _refund(pool, paid.id, 700, "a")
    second = await _refund(pool, paid.id, 1300, "b")
    assert (first.amount_cents, second.amount_cents) == (700, 1300)
    assert second.refund_no == f"{paid.order_no}R02"
    with pytest.raises(RefundExceedsPaid) as raised:
        await _refund(pool, paid.id, 1, "c")
    assert raised.value.params == {
        "amount": "0.01",
        "order_no": paid.order_no,
        "refundable": "0.00",
    }
    assert await count(pool, "SELECT count(*) FROM refunds") == 2


async def test_more_than_refundable_changes_nothing(pool: Any, paid: Any) -> None:
    await _refund(pool, paid.id, 1500, "a")
    with pytest.raises(RefundExceedsPaid):
        await _refund(pool, paid.id, 501, "b")
    assert await count(pool, "SELECT count(*) FROM refunds") == 1
    assert (
        await count(pool, "SELECT count(*) FROM order_events WHERE left(type, 7) = 'refund_'") == 1
    )
    assert (
        await count(pool, "SELECT count(*) FROM procrastinate_jobs "
                    "WHERE task_name = 'payments.execute_refund'")
        == 1
    )  # fmt: skip


async def test_same_key_returns_the_same_refund(pool: Any, paid: Any) -> None:
    first = await _refund(pool, paid.id, 500, "same")
    again = await _refund(pool, paid.id, 900, "same")
    assert again == first
    assert await count(pool, "SELECT count(*) FROM refunds") == 1


async def test_same_key_concurrently_makes_one_refund(pool: Any, paid: Any) -> None:
    results = await asyncio.gather(*(_refund(pool, paid.id, 500, "race") for _ in range(4)))
    assert len({r.id for r in results}) == 1
    assert await count(pool, "SELECT refunds_claimed_cents FROM payments") == 500


async def test_concurrent_refunds_never_exceed_the_payment(pool: Any, paid: Any) -> None:
    outcomes = await asyncio.gather(
        *(_refund(pool, paid.id, 900, f"k{i}") for i in range(4)), return_exceptions=True
    )
    refused = [o for o in outcomes if isinstance(o, RefundExceedsPaid)]
    assert len(refused) == 2
    assert await count(pool, "SELECT sum(amount_cents) FROM refunds") == 1800


async def test_key_of_another_order_is_refused(pool: Any, settings: Settings, paid: Any) -> None:
    other = await make_paid_order(pool, settings, quantity=1, trade_no="T-OTHER")
    await _refund(pool, paid.id, 100, "shared")
    with pytest.raises(IdempotencyKeyReused):
        await _refund(pool, other.id, 100, "shared")


async def test_bad_requests(pool: Any, paid: Any) -> None:
    unpaid = await make_order(pool)
    with pytest.raises(NothingPaid):
        await _refund(pool, unpaid.id, None, "u")
    with pytest.raises(RefundOrderNotFound):
        await _refund(pool, 999_999, None, "x")
    for amount in (0, -5):
        with pytest.raises(RefundAmountInvalid):
            await _refund(pool, paid.id, amount, f"n{amount}")
    assert await count(pool, "SELECT count(*) FROM refunds") == 0


async def test_database_refuses_a_direct_insert_over_the_payment(pool: Any, paid: Any) -> None:
    """The cap holds without the service: raw SQL past the total fails."""
    await _refund(pool, paid.id, 1500, "a")
    insert = (
        "INSERT INTO refunds (order_id, payment_id, refund_no, idempotency_key, amount_cents, "
        "state, reason, actor, created_at, updated_at) "
        "SELECT order_id, id, %(no)s, %(no)s, %(amount)s, %(state)s, 'raw', 'operator', "
        "now(), now() "
        "FROM payments WHERE order_id = %(o)s"
    )
    with pytest.raises(psycopg.errors.CheckViolation):
        async with transaction(pool) as conn:
            await conn.execute(
                insert, {"no": "raw1", "amount": 501, "state": "requested", "o": paid.id}
            )
    # Exactly the rest passes; a given-up refund no longer counts, so its amount is free again.
    async with transaction(pool) as conn:
        await conn.execute(
            insert, {"no": "raw2", "amount": 500, "state": "requested", "o": paid.id}
        )
    async with transaction(pool) as conn:
        await conn.execute("UPDATE refunds SET state = 'given_up' WHERE idempotency_key = 'a'")
    assert await count(pool, "SELECT refunds_claimed_cents FROM payments") == 500
    with pytest.raises(psycopg.errors.CheckViolation):
        async with transaction(pool) as conn:
            await conn.execute(
                "UPDATE refunds SET state = 'requested' WHERE idempotency_key = 'raw2'"
            )
            await conn.execute(
                "UPDATE refunds SET amount_cents = 2001 WHERE idempotency_key = 'raw2'"
            )
    async with transaction(pool) as conn:
        await conn.execute("DELETE FROM refunds WHERE idempotency_key = 'raw2'")
    assert await count(pool, "SELECT refunds_claimed_cents FROM payments") == 0
