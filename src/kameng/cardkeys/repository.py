"""All card-key SQL. Allocation takes keys with FOR UPDATE SKIP LOCKED so that
concurrent buyers never wait on one another and never get the same key."""

from __future__ import annotations

from datetime import datetime

from kameng.db.connection import Conn, fetch_all
from kameng.models.vocabulary import CardKeyStatus

_AVAILABLE = CardKeyStatus.AVAILABLE.value

# ORDER BY pool_seq: only the partial index ix_card_keys_pool (unsold keys)
# provides that order, so the planner cannot walk the sold keys through the
# primary key, one page per key sold (pinned by an EXPLAIN test).
CLAIM_KEYS_SQL = f"""
WITH picked AS (
    SELECT id, row_number() OVER (ORDER BY pool_seq) AS n
    FROM (
        SELECT id, pool_seq FROM card_keys
        WHERE product_id = %(product_id)s AND status = '{_AVAILABLE}'
        ORDER BY pool_seq
        LIMIT %(wanted)s
        FOR UPDATE SKIP LOCKED
    ) AS free
)
UPDATE card_keys AS k
SET status = '{CardKeyStatus.SOLD}', order_id = %(order_id)s, slot = %(first_slot)s + picked.n - 1,
    sold_at = %(now)s
FROM picked
WHERE k.id = picked.id
RETURNING k.id
"""


async def claim_keys(
    conn: Conn,
    *,
    product_id: int,
    order_id: int,
    wanted: int,
    first_slot: int,
    now: datetime,
) -> list[int]:
    """Take up to ``wanted`` unsold keys for the order; returns their ids."""
    rows = await fetch_all(
        conn,
        CLAIM_KEYS_SQL,
        {
            "product_id": product_id,
            "order_id": order_id,
            "wanted": wanted,
            "first_slot": first_slot,
            "now": now,
        },
    )
    return [row[0] for row in rows]


async def secrets_of_order(conn: Conn, order_id: int) -> list[bytes]:
    rows = await fetch_all(
        conn, "SELECT secret FROM card_keys WHERE order_id = %(o)s ORDER BY slot", {"o": order_id}
    )
    return [row[0] for row in rows]


async def available_counts(conn: Conn, product_ids: list[int], cap: int) -> dict[int, int]:
    """Unsold keys per product, counted up to ``cap`` only: the catalogue never
    walks a whole pool (a peer's 16 ms count on every page)."""
    if not product_ids:
        return {}
    rows = await fetch_all(
        conn,
        f"""
        SELECT p.id, (SELECT count(*) FROM (
            SELECT 1 FROM card_keys k
            WHERE k.product_id = p.id AND k.status = '{_AVAILABLE}'
            ORDER BY k.pool_seq LIMIT %(cap)s) AS capped)
        FROM unnest(%(ids)s::bigint[]) AS p(id)
        """,
        {"ids": product_ids, "cap": cap},
    )
    return {row[0]: row[1] for row in rows}
