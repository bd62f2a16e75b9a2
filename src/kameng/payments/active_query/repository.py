"""Active-query schedule SQL (orders.next_query_at, ix_orders_next_query)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from kameng.db.connection import Conn, fetch_all_as, fetch_one
from kameng.db.rows import row_of
from kameng.models.vocabulary import OrderStatus, sql_values

_AWAITING = f"status IN ({sql_values(OrderStatus.UNPAID, OrderStatus.EXPIRED)})"


@row_of("orders")
@dataclass(frozen=True, slots=True)
class DueQuery:
    id: int
    order_no: str
    gateway: str
    next_query_at: datetime | None  # after this claim: the one after (None: over)


# One claim moves the order to its next step before the gateway is asked (a
# second worker skips it; a failed ask is not retried at once): the step's
# delay by attempts so far (the first step, 15 s, led to the first ask), while
# the order is open; one last ask a minute after
# it expired (a payment made in its last seconds); then the schedule is over.
_NEXT = """CASE
    WHEN %(now)s + make_interval(secs => (%(steps)s::int[])[
            least(o.query_attempts + 2, cardinality(%(steps)s::int[]))]) <= o.expires_at
        THEN %(now)s + make_interval(secs => (%(steps)s::int[])[
            least(o.query_attempts + 2, cardinality(%(steps)s::int[]))])
    WHEN %(now)s < o.expires_at + %(after_expiry)s THEN o.expires_at + %(after_expiry)s
    END"""

_CLAIM = f"""
UPDATE orders o SET next_query_at = {_NEXT},
    query_attempts = least(o.query_attempts + 1, 32767)
FROM ({{due}}) due WHERE o.id = due.id
RETURNING o.id, o.order_no, o.gateway, o.next_query_at
"""


async def claim_due(
    conn: Conn, *, now: datetime, steps: list[int], after_expiry: timedelta, limit: int
) -> list[DueQuery]:
    """The ``limit`` most overdue orders (oldest next_query_at first: fair, a
    flood of new orders cannot push an old one back), each moved to its next step."""
    due = (
        f"SELECT id FROM orders WHERE next_query_at <= %(now)s AND next_query_at IS NOT NULL "
        f"AND {_AWAITING} ORDER BY next_query_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED"
    )
    return await fetch_all_as(
        conn,
        DueQuery,
        _CLAIM.format(due=due),
        {"now": now, "steps": steps, "after_expiry": after_expiry, "limit": limit},
    )


async def claim_one(
    conn: Conn, *, order_id: int, now: datetime, steps: list[int], after_expiry: timedelta
) -> DueQuery | None:
    """This order, if its query is due (else None: another run asked already)."""
    due = (
        "SELECT id FROM orders WHERE id = %(id)s AND next_query_at <= %(now)s "
        f"AND {_AWAITING} FOR UPDATE SKIP LOCKED"
    )
    rows = await fetch_all_as(
        conn,
        DueQuery,
        _CLAIM.format(due=due),
        {"id": order_id, "now": now, "steps": steps, "after_expiry": after_expiry},
    )
    return rows[0] if rows else None


async def nudge(
    conn: Conn,
    *,
    order_no: str,
    now: datetime,
    start_at: datetime,
    debounce: timedelta,
    oldest: datetime,
) -> tuple[int, datetime] | None:
    """A buyer's visit: before the first ask, make it come at ``start_at`` at
    the latest (starting the schedule, or keeping an earlier start, e.g. one
    set at creation); after it, pull the next ask forward to ``now``. At most
    once per ``debounce`` per order, only for unpaid/expired orders created
    after ``oldest``.

    Returns (order id, next ask) when something changed, else None. ``start_at``
    equal to ``now`` makes even a first visit ask at once (the return URL)."""
    row = await fetch_one(
        conn,
        "UPDATE orders SET query_nudged_at = %(now)s, next_query_at = CASE "
        "WHEN query_attempts = 0 THEN least(coalesce(next_query_at, %(start)s), %(start)s) "
        "ELSE %(now)s END "
        f"WHERE order_no = %(no)s AND {_AWAITING} AND created_at > %(oldest)s "
        "AND (next_query_at IS NULL OR next_query_at > %(now)s) "
        "AND (query_nudged_at IS NULL OR query_nudged_at <= %(now)s - %(debounce)s) "
        "RETURNING id, next_query_at",
        {
            "no": order_no,
            "now": now,
            "start": start_at,
            "debounce": debounce,
            "oldest": oldest,
        },
    )
    return None if row is None else (int(row[0]), row[1])
