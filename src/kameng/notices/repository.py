"""Notice SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kameng.db.connection import Conn, fetch_all, fetch_all_as, fetch_one, fetch_one_as
from kameng.db.rows import row_of
from kameng.models.vocabulary import NoticeScope


@row_of("notices")
@dataclass(frozen=True, slots=True)
class NoticeRow:
    id: int
    text_zh: str
    text_en: str
    scope: NoticeScope
    target: str | None
    starts_at: datetime
    ends_at: datetime
    created_at: datetime

    def text_for(self, locale: str) -> str:
        return self.text_zh if locale.startswith("zh") else self.text_en

    def active_at(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at


_COLUMNS = "id, text_zh, text_en, scope, target, starts_at, ends_at, created_at"


async def insert(
    conn: Conn,
    *,
    text_zh: str,
    text_en: str,
    scope: NoticeScope,
    target: str | None,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
) -> NoticeRow:
    row = await fetch_one_as(
        conn,
        NoticeRow,
        "INSERT INTO notices (text_zh, text_en, scope, target, starts_at, ends_at, created_at) "
        "VALUES (%(zh)s, %(en)s, %(scope)s, %(target)s, %(starts)s, %(ends)s, %(now)s) "
        f"RETURNING {_COLUMNS}",
        {
            "zh": text_zh,
            "en": text_en,
            "scope": scope.value,
            "target": target,
            "starts": starts_at,
            "ends": ends_at,
            "now": now,
        },
    )
    assert row is not None
    return row


async def not_ended(conn: Conn, now: datetime) -> list[NoticeRow]:
    """Notices running or still to come (index ix_notices_ends_at)."""
    return await fetch_all_as(
        conn,
        NoticeRow,
        f"SELECT {_COLUMNS} FROM notices WHERE ends_at > %(now)s ORDER BY starts_at, id",
        {"now": now},
    )


async def every(conn: Conn, *, limit: int) -> list[NoticeRow]:
    return await fetch_all_as(
        conn,
        NoticeRow,
        f"SELECT {_COLUMNS} FROM notices ORDER BY id DESC LIMIT %(limit)s",
        {"limit": limit},
    )


async def end(conn: Conn, notice_id: int, now: datetime) -> NoticeRow | None:
    """End a notice now. One that has not started yet is withdrawn: its start moves
    just before now so its (empty) window stays well-formed."""
    return await fetch_one_as(
        conn,
        NoticeRow,
        "UPDATE notices SET ends_at = %(now)s, "
        "starts_at = LEAST(starts_at, %(now)s - interval '1 microsecond') "
        f"WHERE id = %(id)s AND ends_at > %(now)s RETURNING {_COLUMNS}",
        {"id": notice_id, "now": now},
    )


async def product_exists(conn: Conn, sku: str) -> bool:
    row = await fetch_one(conn, "SELECT 1 FROM products WHERE sku = %(s)s", {"s": sku})
    return row is not None


async def supplier_exists(conn: Conn, code: str) -> bool:
    row = await fetch_one(conn, "SELECT 1 FROM suppliers WHERE code = %(c)s", {"c": code})
    return row is not None


async def suppliers_of_order(conn: Conn, order_id: int) -> frozenset[str]:
    """Codes of the suppliers the order's fulfilment attempts went to
    (index ix_supply_attempts_order)."""
    rows = await fetch_all(
        conn,
        "SELECT DISTINCT s.code FROM supply_attempts a JOIN suppliers s ON s.id = a.supplier_id "
        "WHERE a.order_id = %(id)s",
        {"id": order_id},
    )
    return frozenset(str(r[0]) for r in rows)
