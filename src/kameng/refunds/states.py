"""The refund state machine: the only code that changes ``refunds.state``.

requested → submitted → succeeded, or → failed → (after back-off) submitted …
until the retries run out (given_up: an operator must act; a given-up refund
no longer counts against the payment's refundable amount). Each change is one
guarded UPDATE that also appends the buyer's timeline event, in one statement,
in the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from psycopg.types.json import Jsonb

from kameng.db.connection import Conn, fetch_one
from kameng.models.vocabulary import Actor, OrderEventType, RefundState

__all__ = ["ALLOWED", "BACKOFF", "EVENTS", "IllegalRefundTransition", "RefundState", "transition"]

ALLOWED: dict[RefundState, frozenset[RefundState]] = {
    RefundState.REQUESTED: frozenset({RefundState.SUBMITTED, RefundState.GIVEN_UP}),
    RefundState.SUBMITTED: frozenset({RefundState.SUCCEEDED, RefundState.FAILED}),
    RefundState.FAILED: frozenset({RefundState.SUBMITTED, RefundState.GIVEN_UP}),
    RefundState.SUCCEEDED: frozenset(),
    RefundState.GIVEN_UP: frozenset(),
}

EVENTS: dict[RefundState, OrderEventType] = {
    RefundState.REQUESTED: OrderEventType.REFUND_REQUESTED,
    RefundState.SUBMITTED: OrderEventType.REFUND_SUBMITTED,
    RefundState.SUCCEEDED: OrderEventType.REFUND_SUCCEEDED,
    RefundState.FAILED: OrderEventType.REFUND_FAILED,
    RefundState.GIVEN_UP: OrderEventType.REFUND_GIVEN_UP,
}

# Waits after the 1st, 2nd, … failure; after the last one the refund is given up.
BACKOFF = [
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=3),
    timedelta(hours=12),
]


class IllegalRefundTransition(Exception):
    def __init__(self, refund_id: int, to: RefundState) -> None:
        super().__init__(f"refund {refund_id} cannot move to {to.value}")
        self.refund_id = refund_id
        self.to = to


def sources_of(target: RefundState) -> list[str]:
    return sorted(s.value for s, targets in ALLOWED.items() if target in targets)


_SQL = """
    WITH moved AS (
        UPDATE refunds SET
            state = %(to)s,
            updated_at = %(now)s,
            attempts = attempts + %(attempt)s,
            next_attempt_at = %(next_attempt_at)s,
            last_error = COALESCE(%(error)s, last_error),
            gateway_refund_no = COALESCE(%(gateway_refund_no)s, gateway_refund_no),
            succeeded_at = CASE WHEN %(succeeded)s THEN %(now)s ELSE succeeded_at END
        WHERE id = %(refund_id)s AND state = ANY(%(sources)s)
        RETURNING order_id, refund_no, amount_cents, attempts
    )
    INSERT INTO order_events (order_id, type, params, actor, created_at)
    SELECT order_id, %(event)s,
           %(params)s::jsonb || jsonb_build_object(
               'refund_no', refund_no, 'amount_cents', amount_cents, 'attempts', attempts),
           %(actor)s, %(now)s
    FROM moved
    RETURNING order_id
"""


async def transition(
    conn: Conn,
    *,
    refund_id: int,
    to: RefundState,
    actor: Actor,
    now: datetime,
    next_attempt_at: datetime | None = None,
    error: str | None = None,
    gateway_refund_no: str | None = None,
    params: dict[str, Any] | None = None,
) -> None:
    """Move the refund to ``to`` and append its timeline event (entering
    ``submitted`` counts an attempt); raises IllegalRefundTransition."""
    moved = await fetch_one(
        conn,
        _SQL,
        {
            "to": to.value,
            "now": now,
            "attempt": 1 if to == RefundState.SUBMITTED else 0,
            "succeeded": to == RefundState.SUCCEEDED,
            "next_attempt_at": next_attempt_at,
            "error": error,
            "gateway_refund_no": gateway_refund_no,
            "refund_id": refund_id,
            "sources": sources_of(to),
            "event": EVENTS[to].value,
            "params": Jsonb(params or {}),
            "actor": actor.value,
        },
    )
    if moved is None:
        raise IllegalRefundTransition(refund_id, to)


def retry_at(attempts: int, now: datetime) -> datetime | None:
    """When to try again after ``attempts`` failed attempts; None = give up."""
    if attempts > len(BACKOFF):
        return None
    return now + BACKOFF[attempts - 1]
