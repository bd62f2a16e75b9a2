"""All supply SQL: suppliers, their products, attempts, callbacks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from kameng.db.connection import Conn, execute, fetch_all, fetch_all_as, fetch_one, fetch_one_as
from kameng.db.rows import row_of
from kameng.models.vocabulary import (
    AttemptStatus,
    OrderStatus,
    SupplierCallbackVerdict,
    sql_values,
)

_LIVE = sql_values(AttemptStatus.CREATED, AttemptStatus.SENT, AttemptStatus.UNKNOWN)


@row_of("suppliers")
@dataclass(frozen=True, slots=True)
class SupplierRow:
    id: int
    code: str
    name: str
    base_url: str
    merchant_id: str
    secret_sealed: bytes
    priority: int
    enabled: bool
    successes: int
    failures: int
    consecutive_failures: int
    latency_ms: int | None
    last_error: str | None
    last_error_at: datetime | None
    breaker_open_until: datetime | None


_SUPPLIER_COLUMNS = (
    "id, code, name, base_url, merchant_id, secret_sealed, priority, enabled, successes, "
    "failures, consecutive_failures, latency_ms, last_error, last_error_at, breaker_open_until"
)


@row_of(
    "suppliers",
    supplier_sku="supplier_products.supplier_sku",
    cost_cents="supplier_products.cost_cents",
    link_priority="supplier_products.priority",
)
@dataclass(frozen=True, slots=True)
class CandidateRow:
    """A supplier that sells a product, with its terms for it."""

    id: int
    code: str
    name: str
    priority: int
    breaker_open_until: datetime | None
    supplier_sku: str
    cost_cents: int
    link_priority: int


@row_of("supply_attempts")
@dataclass(frozen=True, slots=True)
class AttemptRow:
    id: int
    order_id: int
    supplier_id: int
    request_no: str
    status: AttemptStatus
    supplier_order_no: str | None
    refused: bool
    retry_after: datetime | None
    error: str | None
    result: dict[str, Any]
    checks: int
    next_check_at: datetime | None
    created_at: datetime
    sent_at: datetime | None
    finished_at: datetime | None


_ATTEMPT_COLUMNS = (
    "id, order_id, supplier_id, request_no, status, supplier_order_no, refused, retry_after, "
    "error, result, checks, next_check_at, created_at, sent_at, finished_at"
)


async def supplier_by_code(conn: Conn, code: str) -> SupplierRow | None:
    return await fetch_one_as(
        conn,
        SupplierRow,
        f"SELECT {_SUPPLIER_COLUMNS} FROM suppliers WHERE code = %(c)s",
        {"c": code},
    )


async def supplier_by_id(conn: Conn, supplier_id: int) -> SupplierRow | None:
    return await fetch_one_as(
        conn,
        SupplierRow,
        f"SELECT {_SUPPLIER_COLUMNS} FROM suppliers WHERE id = %(i)s",
        {"i": supplier_id},
    )


async def all_suppliers(conn: Conn) -> list[SupplierRow]:
    return await fetch_all_as(
        conn, SupplierRow, f"SELECT {_SUPPLIER_COLUMNS} FROM suppliers ORDER BY priority, id"
    )


async def insert_supplier(
    conn: Conn,
    *,
    code: str,
    name: str,
    base_url: str,
    merchant_id: str,
    secret_sealed: bytes,
    priority: int,
    now: datetime,
) -> int:
    row = await fetch_one(
        conn,
        "INSERT INTO suppliers (code, name, base_url, merchant_id, secret_sealed, priority, "
        "enabled, successes, failures, consecutive_failures, created_at, updated_at) VALUES "
        "(%(code)s, %(name)s, %(url)s, %(mid)s, %(secret)s, %(priority)s, true, 0, 0, 0, "
        "%(now)s, %(now)s) RETURNING id",
        {
            "code": code,
            "name": name,
            "url": base_url,
            "mid": merchant_id,
            "secret": secret_sealed,
            "priority": priority,
            "now": now,
        },
    )
    return int(row[0])


_SETTABLE = frozenset({"name", "base_url", "merchant_id", "secret_sealed", "priority", "enabled"})


async def update_supplier(
    conn: Conn, supplier_id: int, values: dict[str, Any], now: datetime
) -> None:
    unknown = set(values) - _SETTABLE
    if unknown:
        raise ValueError(f"not settable: {', '.join(sorted(unknown))}")
    sets = ", ".join(f"{k} = %({k})s" for k in sorted(values))
    await execute(
        conn,
        f"UPDATE suppliers SET {sets}, updated_at = %(now)s WHERE id = %(id)s",
        {**values, "now": now, "id": supplier_id},
    )


async def link_product(
    conn: Conn,
    *,
    supplier_id: int,
    product_id: int,
    supplier_sku: str,
    cost_cents: int,
    priority: int,
) -> None:
    await execute(
        conn,
        "INSERT INTO supplier_products (supplier_id, product_id, supplier_sku, cost_cents, "
        "priority, enabled) VALUES (%(s)s, %(p)s, %(sku)s, %(cost)s, %(prio)s, true) "
        "ON CONFLICT (supplier_id, product_id) DO UPDATE SET supplier_sku = EXCLUDED.supplier_sku,"
        " cost_cents = EXCLUDED.cost_cents, priority = EXCLUDED.priority, enabled = true",
        {
            "s": supplier_id,
            "p": product_id,
            "sku": supplier_sku,
            "cost": cost_cents,
            "prio": priority,
        },
    )


async def products_of_supplier(conn: Conn, supplier_id: int) -> list[tuple[str, str, int, int]]:
    """(our SKU, their SKU, cost, priority) of each product the supplier serves."""
    rows = await fetch_all(
        conn,
        "SELECT p.sku, sp.supplier_sku, sp.cost_cents, sp.priority FROM supplier_products sp "
        "JOIN products p ON p.id = sp.product_id WHERE sp.supplier_id = %(s)s AND sp.enabled "
        "ORDER BY p.sku",
        {"s": supplier_id},
    )
    return [(str(a), str(b), int(c), int(d)) for a, b, c, d in rows]


async def candidates(conn: Conn, product_id: int) -> list[CandidateRow]:
    """Enabled suppliers of the product, in the order they are tried."""
    return await fetch_all_as(
        conn,
        CandidateRow,
        "SELECT s.id, s.code, s.name, s.priority, s.breaker_open_until, sp.supplier_sku, "
        "sp.cost_cents, sp.priority AS link_priority FROM supplier_products sp "
        "JOIN suppliers s ON s.id = sp.supplier_id "
        "WHERE sp.product_id = %(p)s AND sp.enabled AND s.enabled "
        "ORDER BY sp.priority, s.priority, sp.cost_cents, s.id",
        {"p": product_id},
    )


async def attempts_of_order(conn: Conn, order_id: int) -> list[AttemptRow]:
    return await fetch_all_as(
        conn,
        AttemptRow,
        f"SELECT {_ATTEMPT_COLUMNS} FROM supply_attempts WHERE order_id = %(o)s ORDER BY id",
        {"o": order_id},
    )


async def attempt_by_id(conn: Conn, attempt_id: int) -> AttemptRow | None:
    return await fetch_one_as(
        conn,
        AttemptRow,
        f"SELECT {_ATTEMPT_COLUMNS} FROM supply_attempts WHERE id = %(i)s",
        {"i": attempt_id},
    )


async def attempt_for_callback(conn: Conn, supplier_id: int, request_no: str) -> AttemptRow | None:
    """The latest attempt at this supplier under this key (re-placements reuse the key)."""
    return await fetch_one_as(
        conn,
        AttemptRow,
        f"SELECT {_ATTEMPT_COLUMNS} FROM supply_attempts WHERE supplier_id = %(s)s "
        "AND request_no = %(r)s ORDER BY id DESC LIMIT 1",
        {"s": supplier_id, "r": request_no},
    )


async def insert_attempt(
    conn: Conn, *, order_id: int, supplier_id: int, request_no: str, now: datetime
) -> int | None:
    """A new attempt in ``created``; None when the order already has a live one
    (the partial unique index ux_supply_attempts_live decides)."""
    row = await fetch_one(
        conn,
        "INSERT INTO supply_attempts (order_id, supplier_id, request_no, status, refused, "
        "result, checks, next_check_at, created_at, updated_at) VALUES (%(o)s, %(s)s, %(r)s, "
        f"'{AttemptStatus.CREATED}', false, '{{}}'::jsonb, 0, %(now)s, %(now)s, %(now)s) "
        f"ON CONFLICT (order_id) WHERE status IN ({_LIVE}) DO NOTHING RETURNING id",
        {"o": order_id, "s": supplier_id, "r": request_no, "now": now},
    )
    return None if row is None else int(row[0])


async def record_call(
    conn: Conn,
    supplier_id: int,
    *,
    ok: bool,
    latency_ms: int,
    error: str | None,
    now: datetime,
    trip_after: int,
    open_for: timedelta,
) -> None:
    """Health after one call; ``trip_after`` failures in a row open the breaker
    for ``open_for`` (then one probe is let through: half-open)."""
    await execute(
        conn,
        """
        UPDATE suppliers SET
            successes = successes + %(ok)s::int,
            failures = failures + (NOT %(ok)s)::int,
            consecutive_failures = CASE WHEN %(ok)s THEN 0 ELSE consecutive_failures + 1 END,
            latency_ms = CASE WHEN latency_ms IS NULL THEN %(ms)s
                ELSE (latency_ms * 4 + %(ms)s) / 5 END,
            last_error = CASE WHEN %(ok)s THEN last_error ELSE %(error)s END,
            last_error_at = CASE WHEN %(ok)s THEN last_error_at ELSE %(now)s END,
            breaker_open_until = CASE
                WHEN %(ok)s THEN NULL
                WHEN consecutive_failures + 1 >= %(trip)s THEN %(now)s + %(open_for)s
                ELSE breaker_open_until END,
            updated_at = %(now)s
        WHERE id = %(id)s
        """,
        {
            "ok": ok,
            "ms": latency_ms,
            "error": error,
            "now": now,
            "trip": trip_after,
            "open_for": open_for,
            "id": supplier_id,
        },
    )


async def record_callback(
    conn: Conn,
    *,
    supplier_code: str,
    request_no: str | None,
    nonce: str | None,
    raw_body: str,
    verdict: SupplierCallbackVerdict,
    detail: str,
    attempt_id: int | None,
    now: datetime,
) -> bool:
    """Store a callback; False when its nonce was already accepted (a replay)."""
    row = await fetch_one(
        conn,
        "INSERT INTO supplier_callbacks (supplier_code, request_no, nonce, raw_body, verdict, "
        "detail, attempt_id, created_at) VALUES (%(c)s, %(r)s, %(n)s, %(b)s, %(v)s, %(d)s, "
        "%(a)s, %(now)s) ON CONFLICT DO NOTHING RETURNING id",
        {
            "c": supplier_code[:64],
            "r": (request_no or "")[:64] or None,
            "n": (nonce or "")[:64] or None,
            "b": raw_body,
            "v": verdict.value,
            "d": detail,
            "a": attempt_id,
            "now": now,
        },
    )
    return row is not None


async def callbacks_of(conn: Conn, supplier_code: str) -> list[tuple[str, str | None]]:
    """(verdict, request_no) of the supplier's callbacks, oldest first (tests, operators)."""
    rows = await fetch_all(
        conn,
        "SELECT verdict, request_no FROM supplier_callbacks WHERE supplier_code = %(c)s "
        "ORDER BY id",
        {"c": supplier_code},
    )
    return [(str(v), r) for v, r in rows]


async def orders_needing_work(conn: Conn, *, now: datetime, limit: int) -> list[int]:
    """Orders with the supply engine whose next step is due: a live attempt to
    check, or no live attempt (a job lost with a killed worker)."""
    rows = await fetch_all(
        conn,
        f"""
        SELECT a.order_id FROM supply_attempts a
        WHERE a.status IN ({_LIVE}) AND a.next_check_at <= %(now)s
        UNION
        SELECT o.id FROM orders o WHERE o.status = '{OrderStatus.FULFILLING}'
          AND NOT EXISTS (SELECT 1 FROM supply_attempts a
                          WHERE a.order_id = o.id AND a.status IN ({_LIVE}))
        LIMIT %(limit)s
        """,
        {"now": now, "limit": limit},
    )
    return [int(r[0]) for r in rows]


async def last_event_of(conn: Conn, order_id: int) -> tuple[str, dict[str, Any]] | None:
    row = await fetch_one(
        conn,
        "SELECT type, params FROM order_events WHERE order_id = %(o)s ORDER BY id DESC LIMIT 1",
        {"o": order_id},
    )
    return None if row is None else (str(row[0]), dict(row[1]))


async def insert_manual_delivery(conn: Conn, order_id: int, text: str, now: datetime) -> bool:
    row = await fetch_one(
        conn,
        "INSERT INTO manual_deliveries (order_id, text, created_at) VALUES (%(o)s, %(t)s, %(now)s)"
        " ON CONFLICT DO NOTHING RETURNING order_id",
        {"o": order_id, "t": text, "now": now},
    )
    return row is not None


async def manual_delivery_of(conn: Conn, order_id: int) -> str | None:
    row = await fetch_one(
        conn, "SELECT text FROM manual_deliveries WHERE order_id = %(o)s", {"o": order_id}
    )
    return None if row is None else str(row[0])


async def result_of_order(conn: Conn, order_id: int) -> dict[str, Any] | None:
    """The result the succeeded attempt recorded (a top-up's voucher)."""
    row = await fetch_one(
        conn,
        f"SELECT result FROM supply_attempts WHERE order_id = %(o)s "
        f"AND status = '{AttemptStatus.SUCCEEDED}' ORDER BY id DESC LIMIT 1",
        {"o": order_id},
    )
    return None if row is None else dict(row[0])


async def nonce_seen(conn: Conn, supplier_code: str, nonce: str) -> bool:
    """A callback with this nonce was acknowledged before (a replay)."""
    row = await fetch_one(
        conn,
        "SELECT 1 FROM supplier_callbacks WHERE supplier_code = %(c)s AND nonce = %(n)s",
        {"c": supplier_code, "n": nonce},
    )
    return row is not None


async def order_number(conn: Conn, order_id: int) -> str | None:
    row = await fetch_one(conn, "SELECT order_no FROM orders WHERE id = %(o)s", {"o": order_id})
    return None if row is None else str(row[0])
