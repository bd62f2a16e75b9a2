"""Payment and notify-log SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from psycopg.types.json import Jsonb

from kameng.cardkeys.repository import claim_keys_sql
from kameng.db.connection import Conn, fetch_one, fetch_one_as
from kameng.db.rows import row_of
from kameng.models.payment import KEPT_FOREVER
from kameng.models.vocabulary import NotifyVerdict, sql_values
from kameng.orders.states import PAID_SOURCES, paid_and_fulfilled_sql


@row_of("payments")
@dataclass(frozen=True, slots=True)
class PaymentRow:
    order_id: int
    gateway: str
    trade_no: str
    amount_cents: int


_INSERT_PAYMENT = (
    "INSERT INTO payments (order_id, gateway, trade_no, amount_cents, method, received_at, "
    "surplus) VALUES (%(order_id)s, %(gateway)s, %(trade_no)s, %(amount)s, %(method)s, "
    "%(now)s, %(surplus)s) ON CONFLICT DO NOTHING RETURNING id"
)

# The paid notify of a card-key order in one statement: record the money, take
# the keys (the allocation statement itself, gated on the payment), move the
# order unpaid|expired → paid → delivered|awaiting_stock with both timeline
# events. Every part is gated on the payment row being new, so a duplicate or
# a reused trade number changes nothing and the caller takes the general path.
_PAID = "EXISTS (SELECT 1 FROM pay)"
PAY_AND_DELIVER_KEYS = f"""
WITH pay AS ({_INSERT_PAYMENT}),
claimed AS ({claim_keys_sql(gate=" AND " + _PAID)}),
{paid_and_fulfilled_sql(gate=_PAID, delivered="SELECT count(*) FROM claimed")}
SELECT (SELECT count(*) FROM pay), (SELECT count(*) FROM moved), (SELECT count(*) FROM claimed)
"""  # fmt: skip


class PaidAndDelivered(NamedTuple):
    recorded: bool  # False: this order or this trade was paid before; nothing changed
    moved: bool  # False (with recorded): the order was in no payable state
    keys: int  # keys the order holds now


async def pay_and_deliver_keys(
    conn: Conn,
    *,
    order_id: int,
    product_id: int,
    quantity: int,
    gateway: str,
    trade_no: str,
    amount_cents: int,
    method: str,
    paid_params: dict[str, Any],
    now: datetime,
) -> PaidAndDelivered:
    """For an order not yet served in part, locked by the caller."""
    row = await fetch_one(
        conn,
        PAY_AND_DELIVER_KEYS,
        {
            "order_id": order_id,
            "gateway": gateway,
            "trade_no": trade_no,
            "amount": amount_cents,
            "method": method,
            "now": now,
            "product_id": product_id,
            "wanted": quantity,
            "first_slot": 1,
            "quantity": quantity,
            "surplus": False,
            "paid_sources": PAID_SOURCES,
            "paid_params": Jsonb(paid_params),
        },
    )
    assert row is not None  # an aggregate-only SELECT always answers one row
    return PaidAndDelivered(recorded=row[0] == 1, moved=row[1] == 1, keys=int(row[2]))


async def insert_payment(
    conn: Conn,
    *,
    order_id: int,
    gateway: str,
    trade_no: str,
    amount_cents: int,
    method: str,
    now: datetime,
    surplus: bool = False,
) -> bool:
    """Record the money; False when this order is already paid (not for a
    surplus payment) or this trade is already recorded."""
    row = await fetch_one(
        conn,
        _INSERT_PAYMENT,
        {
            "surplus": surplus,
            "order_id": order_id,
            "gateway": gateway,
            "trade_no": trade_no,
            "amount": amount_cents,
            "method": method,
            "now": now,
        },
    )
    return row is not None


REFUSED_NOTIFY_SCOPE = "notify-refused:"


async def payment_of_order(conn: Conn, order_id: int) -> PaymentRow | None:
    return await fetch_one_as(
        conn,
        PaymentRow,
        "SELECT order_id, gateway, trade_no, amount_cents FROM payments "
        "WHERE order_id = %(o)s AND NOT surplus",
        {"o": order_id},
    )


async def order_of_trade(conn: Conn, gateway: str, trade_no: str) -> int | None:
    row = await fetch_one(
        conn,
        "SELECT order_id FROM payments WHERE gateway = %(g)s AND trade_no = %(t)s",
        {"g": gateway, "t": trade_no},
    )
    return None if row is None else int(row[0])


def _storable(value: str | None, limit: int | None = None) -> str | None:
    """PostgreSQL text cannot hold NUL: keep it visible as an escape instead."""
    if value is None:
        return None
    value = value.replace("\x00", "\\x00")
    return value[:limit] if limit else value


async def record_notify(
    conn: Conn,
    *,
    gateway: str,
    now: datetime,
    http_method: str,
    raw_query: str,
    raw_body: str,
    remote_addr: str | None,
    out_trade_no: str | None,
    trade_no: str | None,
    verdict: NotifyVerdict,
    detail: str,
    order_id: int | None,
    raw_headers: str | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO payment_notifies (gateway, received_at, http_method, raw_query, raw_body, "
        "raw_headers, remote_addr, out_trade_no, trade_no, verdict, detail, order_id) VALUES "
        "(%(gateway)s, %(now)s, %(m)s, %(q)s, %(b)s, %(h)s, %(addr)s, %(otn)s, %(tn)s, "
        "%(verdict)s, %(detail)s, %(order_id)s)",
        {
            "gateway": _storable(gateway, 32),
            "now": now,
            "m": _storable(http_method, 8),
            "q": _storable(raw_query),
            "b": _storable(raw_body),
            "h": _storable(raw_headers),
            "addr": _storable(remote_addr, 64),
            "otn": _storable(out_trade_no or None, 64),
            "tn": _storable(trade_no or None, 64),
            "verdict": verdict.value,
            "detail": _storable(detail),
            "order_id": order_id,
        },
    )


async def claim_nonce(
    conn: Conn, *, gateway: str, nonce: str, now: datetime, expires_at: datetime
) -> bool:
    """Record a notify's one-time nonce; False when it was seen and has not expired.

    Concurrent replays queue on the unique index: the second sees the first's row.
    An expired row is reclaimed (its notify's timestamp is stale by then anyway).
    """
    row = await fetch_one(
        conn,
        "INSERT INTO notify_nonces (gateway, nonce, expires_at) "
        "VALUES (%(gateway)s, %(nonce)s, %(expires)s) "
        "ON CONFLICT (gateway, nonce) DO UPDATE SET expires_at = EXCLUDED.expires_at "
        "WHERE notify_nonces.expires_at < %(now)s RETURNING id",
        {"gateway": gateway, "nonce": nonce, "expires": expires_at, "now": now},
    )
    return row is not None


async def count_refused_notify(conn: Conn, *, remote_addr: str, now: datetime) -> int:
    """Count one refused notify from ``remote_addr`` in this minute's window
    (the shared rate_limits table); returns the count so far in the window."""
    row = await fetch_one(
        conn,
        "INSERT INTO rate_limits (key, window_start, hits) VALUES (%(k)s, %(start)s, 1) "
        "ON CONFLICT (key) DO UPDATE SET hits = CASE WHEN rate_limits.window_start = "
        "EXCLUDED.window_start THEN rate_limits.hits + 1 ELSE 1 END, "
        "window_start = EXCLUDED.window_start RETURNING hits",
        {
            "k": f"{REFUSED_NOTIFY_SCOPE}{remote_addr[:64]}",
            "start": now.replace(second=0, microsecond=0),
        },
    )
    return int(row[0])


async def purge_refused_notify_counters(conn: Conn, *, before: datetime) -> int:
    cursor = await conn.execute(
        "DELETE FROM rate_limits WHERE key LIKE %(scope)s AND window_start < %(before)s",
        {"scope": REFUSED_NOTIFY_SCOPE + "%", "before": before},
    )
    return cursor.rowcount


async def purge_notify_log(conn: Conn, *, before: datetime, limit: int) -> int:
    """Delete up to ``limit`` raw notifies received before ``before`` that brought
    no money in (ix_payment_notifies_purgeable); returns how many."""
    cursor = await conn.execute(
        "DELETE FROM payment_notifies WHERE id IN (SELECT id FROM payment_notifies "
        f"WHERE verdict NOT IN ({sql_values(*KEPT_FOREVER)}) AND received_at < %(before)s "
        "LIMIT %(limit)s)",
        {"before": before, "limit": limit},
    )
    return cursor.rowcount


async def purge_expired_nonces(conn: Conn, *, now: datetime) -> int:
    cursor = await conn.execute(
        "DELETE FROM notify_nonces WHERE expires_at < %(now)s", {"now": now}
    )
    return cursor.rowcount
