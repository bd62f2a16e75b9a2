"""All card-key SQL. Allocation takes keys with FOR UPDATE SKIP LOCKED so that
concurrent buyers never wait on one another and never get the same key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# ORDER BY pool_seq: only the partial index ix_card_keys_pool (unsold keys)
# provides that order, so the planner cannot walk the sold keys through the
# primary key (performance.md trap 1; pinned by an EXPLAIN test).
CLAIM_KEYS_SQL = """
WITH picked AS (
    SELECT id, row_number() OVER (ORDER BY pool_seq) AS n
    FROM (
        SELECT id, pool_seq FROM card_keys
        WHERE product_id = :product_id AND status = 'available'
        ORDER BY pool_seq
        LIMIT :wanted
        FOR UPDATE SKIP LOCKED
    ) AS free
)
UPDATE card_keys AS k
SET status = 'sold', order_id = :order_id, slot = :first_slot + picked.n - 1, sold_at = :now
FROM picked
WHERE k.id = picked.id
RETURNING k.id
"""


async def claim_keys(
    session: AsyncSession,
    *,
    product_id: int,
    order_id: int,
    wanted: int,
    first_slot: int,
    now: datetime,
) -> list[int]:
    """Take up to ``wanted`` unsold keys for the order; returns their ids."""
    result = await session.execute(
        text(CLAIM_KEYS_SQL),
        {
            "product_id": product_id,
            "order_id": order_id,
            "wanted": wanted,
            "first_slot": first_slot,
            "now": now,
        },
    )
    return [row[0] for row in result]


async def secrets_of_order(session: AsyncSession, order_id: int) -> list[bytes]:
    result = await session.execute(
        text("SELECT secret FROM card_keys WHERE order_id = :o ORDER BY slot"), {"o": order_id}
    )
    return [row[0] for row in result]


async def available_counts(
    session: AsyncSession, product_ids: list[int], cap: int
) -> dict[int, int]:
    """Unsold keys per product, counted up to ``cap`` only: the catalogue never
    walks a whole pool (a peer's 16 ms count on every page)."""
    if not product_ids:
        return {}
    result = await session.execute(
        text(
            """
            SELECT p.id, (SELECT count(*) FROM (
                SELECT 1 FROM card_keys k
                WHERE k.product_id = p.id AND k.status = 'available'
                ORDER BY k.pool_seq LIMIT :cap) AS capped)
            FROM unnest(CAST(:ids AS bigint[])) AS p(id)
            """
        ),
        {"ids": product_ids, "cap": cap},
    )
    return {row[0]: row[1] for row in result}
