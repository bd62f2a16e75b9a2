"""When the gateway is asked about an unpaid order (主动查单).

A notify can be lost (or a sandbox told to suppress it); the shop then asks
the gateway itself. Only orders whose payment was started are asked about: the
schedule starts when the buyer opens the order page or the pay page, or when
the shop hands out a pay link that goes straight to the gateway (the JSON
API's ``pay_url`` for epay V1 and Alipay: its client may send the buyer on
without any page of ours). Junk orders nobody opened cost nothing; a direct
link costs at most the schedule's few asks. Then it backs off
(QUERY_STEPS_SECONDS) until the order expires, with one last ask just after. A
buyer's visit pulls the next ask forward to now: coming back from the gateway
(return URL) at once, opening the order page at most once per VIEW_DEBOUNCE
(a visit before the first ask never puts it later, nor earlier than its own
first-ask delay). The visit only writes the time and defers a job; the network
call is the worker's.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from kameng.db.connection import Conn
from kameng.db.jobs import JobName, defer
from kameng.payments.active_query import repository

# Delays between asks, by attempt; the last one repeats until the order expires.
QUERY_STEPS_SECONDS = [15, 30, 60, 120, 300, 600, 900, 1800, 3600]
# One last ask this long after expiry (a payment made in the order's last seconds).
AFTER_EXPIRY = timedelta(minutes=1)
# A visit may pull the query forward for orders up to this old (a late payment
# on an expired order is still found when the buyer comes back).
VISITS_COUNT_FOR = timedelta(days=1)
# The periodic sweep runs once a minute; an ask due sooner gets its own job.
SWEEP_PERIOD = timedelta(minutes=1)


def first_ask_for_link(now: datetime) -> datetime:
    """The first ask for an order whose direct pay link is handed out ``now``:
    written with the order itself (no job: the minute sweep asks, so the first
    ask comes 15-75 s after creation, and the schedule's steps after it)."""
    return now + timedelta(seconds=QUERY_STEPS_SECONDS[0])


class Visit(StrEnum):
    ORDER_PAGE = "order_page"  # the order page, its live fragment, or the API's order
    PAY_PAGE = "pay_page"  # /o/{no}/pay (WeChat Pay's trade, epay V2's fresh link)
    GATEWAY_RETURN = "gateway_return"  # the buyer sent back by the gateway


# (first ask after a visit that starts the schedule, debounce per order)
_VISITS: dict[Visit, tuple[timedelta, timedelta]] = {
    Visit.ORDER_PAGE: (timedelta(seconds=QUERY_STEPS_SECONDS[0]), timedelta(seconds=30)),
    Visit.PAY_PAGE: (timedelta(seconds=QUERY_STEPS_SECONDS[0]), timedelta(seconds=30)),
    Visit.GATEWAY_RETURN: (timedelta(0), timedelta(seconds=5)),
}
VIEW_DEBOUNCE = _VISITS[Visit.ORDER_PAGE][1]


async def buyer_visited(conn: Conn, *, order_no: str, visit: Visit, now: datetime) -> bool:
    """Start or pull forward the order's query; True when a job was deferred.
    Cheap (one indexed UPDATE, usually matching nothing); never calls the gateway."""
    first_ask, debounce = _VISITS[visit]
    changed = await repository.nudge(
        conn,
        order_no=order_no,
        now=now,
        start_at=now + first_ask,
        debounce=debounce,
        oldest=now - VISITS_COUNT_FOR,
    )
    if changed is None:
        return False
    order_id, next_ask = changed
    await ask_later(conn, order_id=order_id, delay=max(timedelta(0), next_ask - now))
    return True


async def ask_later(conn: Conn, *, order_id: int, delay: timedelta) -> None:
    """A job asking about this order after ``delay``. An immediate one is
    deferred once per order while it waits (a second visit adds nothing); a
    delayed one comes from a step taken (one per step), so needs no lock."""
    seconds = max(0, int(delay.total_seconds()))
    await defer(
        conn,
        JobName.QUERY_ORDER,
        queueing_lock=f"query-order:{order_id}" if seconds == 0 else None,
        delay_seconds=seconds,
        order_id=order_id,
    )


async def claim_due(conn: Conn, *, now: datetime, limit: int) -> list[repository.DueQuery]:
    """Take the due orders for asking now; an order whose next ask comes before
    the next sweep gets a job for it."""
    claimed = await repository.claim_due(
        conn, now=now, steps=QUERY_STEPS_SECONDS, after_expiry=AFTER_EXPIRY, limit=limit
    )
    for due in claimed:
        await _follow_up(conn, due, now)
    return claimed


async def claim_one(conn: Conn, *, order_id: int, now: datetime) -> repository.DueQuery | None:
    due = await repository.claim_one(
        conn, order_id=order_id, now=now, steps=QUERY_STEPS_SECONDS, after_expiry=AFTER_EXPIRY
    )
    if due is not None:
        await _follow_up(conn, due, now)
    return due


async def _follow_up(conn: Conn, due: repository.DueQuery, now: datetime) -> None:
    if due.next_query_at is not None and due.next_query_at - now < SWEEP_PERIOD:
        await ask_later(conn, order_id=due.id, delay=due.next_query_at - now)
