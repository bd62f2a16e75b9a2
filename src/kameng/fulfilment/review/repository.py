"""SQL of the risk review."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from kameng.db.connection import Conn, execute, fetch_all, fetch_one, fetch_one_as
from kameng.db.rows import row_of
from kameng.models.vocabulary import OrderStatus


@row_of("risk_rules")
@dataclass(frozen=True, slots=True)
class RulesRow:
    above_cents: int | None
    contact_max: int | None
    window_seconds: int
    review_sla_seconds: int


async def rules(conn: Conn) -> RulesRow | None:
    return await fetch_one_as(
        conn,
        RulesRow,
        "SELECT above_cents, contact_max, window_seconds, review_sla_seconds "
        "FROM risk_rules WHERE id = 1",
    )


async def set_rules(
    conn: Conn,
    *,
    above_cents: int | None,
    contact_max: int | None,
    window_seconds: int,
    review_sla_seconds: int,
    now: datetime,
) -> None:
    await execute(
        conn,
        "INSERT INTO risk_rules (id, above_cents, contact_max, window_seconds, "
        "review_sla_seconds, updated_at) VALUES (1, %(above)s, %(max)s, %(window)s, %(sla)s, "
        "%(now)s) ON CONFLICT (id) DO UPDATE SET above_cents = EXCLUDED.above_cents, "
        "contact_max = EXCLUDED.contact_max, window_seconds = EXCLUDED.window_seconds, "
        "review_sla_seconds = EXCLUDED.review_sla_seconds, updated_at = EXCLUDED.updated_at",
        {
            "above": above_cents,
            "max": contact_max,
            "window": window_seconds,
            "sla": review_sla_seconds,
            "now": now,
        },
    )


async def paid_by_contact(conn: Conn, contact: str, *, since: datetime, other_than: int) -> int:
    """Orders of this contact paid since ``since`` (index ix_orders_contact)."""
    row = await fetch_one(
        conn,
        "SELECT count(*) FROM orders WHERE lower(contact) = lower(%(c)s) "
        "AND paid_at >= %(since)s AND id <> %(id)s",
        {"c": contact.strip(), "since": since, "id": other_than},
    )
    return int(row[0]) if row else 0


class HeldRow(NamedTuple):
    """A held order as ``kameng review list`` shows it (joined and computed columns)."""

    order_no: str
    product: str
    amount_cents: int
    contact: str | None
    paid_at: datetime | None
    reason: str
    review_by: datetime | None


async def held(conn: Conn, *, limit: int = 200) -> list[HeldRow]:
    """Orders waiting for review, oldest paid first, with the rule that held each."""
    rows = await fetch_all(
        conn,
        "SELECT o.order_no, p.name, o.amount_cents, o.contact, o.paid_at, "
        "COALESCE(e.params->>'reason', ''), o.next_deadline_at "
        "FROM orders o JOIN products p ON p.id = o.product_id "
        "LEFT JOIN LATERAL (SELECT params FROM order_events WHERE order_id = o.id "
        "AND type = 'risk_held' ORDER BY id DESC LIMIT 1) e ON true "
        f"WHERE o.status = '{OrderStatus.UNDER_REVIEW}' ORDER BY o.paid_at, o.id "
        "LIMIT %(limit)s",
        {"limit": limit},
    )
    return [HeldRow(*row) for row in rows]


def window(seconds: int) -> timedelta:
    return timedelta(seconds=seconds)
