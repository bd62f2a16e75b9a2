"""Reconciliation SQL: the day's payments of one channel, runs and findings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from psycopg.types.json import Jsonb

from kameng.db.connection import Conn, execute, fetch_all_as, fetch_one
from kameng.db.rows import row_of
from kameng.models.vocabulary import FindingKind, RefundState


@row_of("payments", order_no="orders.order_no")
@dataclass(frozen=True, slots=True)
class LocalPayment:
    order_no: str
    trade_no: str
    amount_cents: int
    received_at: datetime


_SELECT = (
    "SELECT o.order_no, p.trade_no, p.amount_cents, p.received_at "
    "FROM payments p JOIN orders o ON o.id = p.order_id "
)


async def payments_between(
    conn: Conn, *, gateway: str, start: datetime, end: datetime
) -> list[LocalPayment]:
    return await fetch_all_as(
        conn,
        LocalPayment,
        _SELECT + "WHERE p.gateway = %(g)s AND p.received_at >= %(s)s AND p.received_at < %(e)s",
        {"g": gateway, "s": start, "e": end},
    )


async def payments_by_trade(
    conn: Conn, *, gateway: str, trade_nos: list[str]
) -> list[LocalPayment]:
    return await fetch_all_as(
        conn,
        LocalPayment,
        _SELECT + "WHERE p.gateway = %(g)s AND p.trade_no = ANY(%(t)s)",
        {"g": gateway, "t": trade_nos},
    )


@row_of("refunds", order_no="orders.order_no", trade_no="payments.trade_no")
@dataclass(frozen=True, slots=True)
class LocalRefund:
    order_no: str
    trade_no: str
    refund_no: str
    attempts: int
    amount_cents: int
    state: RefundState
    succeeded_at: datetime | None


async def refunds_of(
    conn: Conn, *, gateway: str, trade_nos: list[str], start: datetime, end: datetime
) -> list[LocalRefund]:
    """The refunds of these trades, and those that succeeded within [start, end)."""
    return await fetch_all_as(
        conn,
        LocalRefund,
        "SELECT o.order_no, p.trade_no, r.refund_no, r.attempts, r.amount_cents, r.state, "
        "r.succeeded_at FROM refunds r JOIN payments p ON p.id = r.payment_id "
        "JOIN orders o ON o.id = r.order_id WHERE p.gateway = %(g)s AND "
        "(p.trade_no = ANY(%(t)s) OR (r.succeeded_at >= %(s)s AND r.succeeded_at < %(e)s)) "
        "ORDER BY r.id",
        {"g": gateway, "t": trade_nos, "s": start, "e": end},
    )


class Finding(NamedTuple):
    kind: FindingKind
    order_no: str | None
    trade_no: str | None
    local_cents: int | None
    gateway_cents: int | None
    evidence: dict[str, Any]


async def store_run(
    conn: Conn,
    *,
    channel: str,
    day: date,
    now: datetime,
    gateway_lines: int,
    local_payments: int,
    error: str | None,
    findings: list[Finding],
) -> int:
    row = await fetch_one(
        conn,
        "INSERT INTO reconciliation_runs (channel, bill_date, started_at, gateway_lines, "
        "local_payments, error) VALUES (%(c)s, %(d)s, %(now)s, %(g)s, %(l)s, %(e)s) RETURNING id",
        {"c": channel, "d": day, "now": now, "g": gateway_lines, "l": local_payments, "e": error},
    )
    run_id = int(row[0])
    for f in findings:
        await execute(
            conn,
            "INSERT INTO reconciliation_findings (run_id, kind, order_no, trade_no, local_cents, "
            "gateway_cents, evidence) VALUES (%(r)s, %(k)s, %(o)s, %(t)s, %(lc)s, %(gc)s, %(ev)s)",
            {
                "r": run_id,
                "k": f.kind.value,
                "o": f.order_no,
                "t": f.trade_no,
                "lc": f.local_cents,
                "gc": f.gateway_cents,
                "ev": Jsonb(f.evidence),
            },
        )
    return run_id


async def findings_of(conn: Conn, run_id: int) -> list[tuple[Any, ...]]:
    cur = await conn.execute(
        "SELECT kind, order_no, trade_no, local_cents, gateway_cents, evidence "
        "FROM reconciliation_findings WHERE run_id = %(r)s ORDER BY id",
        {"r": run_id},
    )
    return list(await cur.fetchall())
