"""All card-key SQL. Allocation takes keys with FOR UPDATE SKIP LOCKED so that
concurrent buyers never wait on one another and never get the same key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kameng.db.connection import Conn, fetch_all, fetch_all_as
from kameng.db.rows import row_of
from kameng.models.vocabulary import CardKeyStatus

_AVAILABLE = CardKeyStatus.AVAILABLE.value


# ORDER BY pool_seq: only the partial index ix_card_keys_pool (unsold keys)
# provides that order, so the planner cannot walk the sold keys through the
# primary key, one page per key sold (pinned by an EXPLAIN test).
def claim_keys_sql(gate: str = "") -> str:
    """The allocation statement; ``gate`` (SQL, e.g. ``AND EXISTS (…)``) adds a
    condition that does not touch card_keys (the fused paid notify uses it)."""
    return f"""
WITH picked AS (
    SELECT id, row_number() OVER (ORDER BY pool_seq) AS n
    FROM (
        SELECT id, pool_seq FROM card_keys
        WHERE product_id = %(product_id)s AND status = '{_AVAILABLE}'{gate}
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


CLAIM_KEYS_SQL = claim_keys_sql()


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


@row_of("card_keys")
@dataclass(frozen=True, slots=True)
class SealedKey:
    """A card key as stored: the ciphertext and the row data it is bound to."""

    id: int
    product_id: int
    fingerprint: bytes
    secret: bytes


async def secrets_of_order(conn: Conn, order_id: int) -> list[SealedKey]:
    return await fetch_all_as(
        conn,
        SealedKey,
        "SELECT id, product_id, fingerprint, secret FROM card_keys"
        " WHERE order_id = %(o)s ORDER BY slot",
        {"o": order_id},
    )


# At most ``cap`` entries of the partial index of unsold keys per product
# (pinned by an EXPLAIN test): the cost stays flat however big the pool is.
AVAILABLE_COUNTS_SQL = f"""
    SELECT p.id, (SELECT count(*) FROM (
        SELECT 1 FROM card_keys k
        WHERE k.product_id = p.id AND k.status = '{_AVAILABLE}'
        ORDER BY k.pool_seq LIMIT %(cap)s) AS capped)
    FROM unnest(%(ids)s::bigint[]) AS p(id)
"""


async def available_counts(conn: Conn, product_ids: list[int], cap: int) -> dict[int, int]:
    """Unsold keys per product, counted up to ``cap`` only: the catalogue never
    walks a whole pool (a peer's 16 ms count on every page)."""
    if not product_ids:
        return {}
    rows = await fetch_all(conn, AVAILABLE_COUNTS_SQL, {"ids": product_ids, "cap": cap})
    return {row[0]: row[1] for row in rows}


async def lock_not_sealed_with(
    conn: Conn, *, prefix: bytes, after_id: int, limit: int
) -> list[SealedKey]:
    """The next ``limit`` keys (by id, after ``after_id``) not sealed under the
    cipher whose ciphertexts start with ``prefix``, locked for rewriting. Plain
    FOR UPDATE, not SKIP LOCKED: an allocation holds its keys for milliseconds
    and a skipped key would stay under the old key."""
    return await fetch_all_as(
        conn,
        SealedKey,
        """
        SELECT id, product_id, fingerprint, secret FROM card_keys
        WHERE id > %(after)s AND substring(secret FROM 1 FOR %(n)s) IS DISTINCT FROM %(prefix)s
        ORDER BY id
        LIMIT %(limit)s
        FOR UPDATE
        """,
        {"after": after_id, "n": len(prefix), "prefix": prefix, "limit": limit},
    )


async def rewrite_sealed(conn: Conn, rows: list[SealedKey]) -> int:
    """Store new fingerprints and ciphertexts for these keys; returns how many."""
    if not rows:
        return 0
    cur = await conn.execute(
        """
        UPDATE card_keys AS k SET fingerprint = u.fingerprint, secret = u.secret
        FROM unnest(%(ids)s::bigint[], %(fps)s::bytea[], %(secrets)s::bytea[])
            AS u(id, fingerprint, secret)
        WHERE k.id = u.id
        """,
        {
            "ids": [r.id for r in rows],
            "fps": [r.fingerprint for r in rows],
            "secrets": [r.secret for r in rows],
        },
    )
    return cur.rowcount


async def count_not_sealed_with(conn: Conn, *, prefix: bytes) -> int:
    rows = await fetch_all(
        conn,
        "SELECT count(*) FROM card_keys"
        " WHERE substring(secret FROM 1 FOR %(n)s) IS DISTINCT FROM %(prefix)s",
        {"n": len(prefix), "prefix": prefix},
    )
    return int(rows[0][0])


async def any_not_sealed_with(conn: Conn, *, prefix: bytes) -> bool:
    rows = await fetch_all(
        conn,
        "SELECT EXISTS (SELECT 1 FROM card_keys"
        " WHERE substring(secret FROM 1 FOR %(n)s) IS DISTINCT FROM %(prefix)s)",
        {"n": len(prefix), "prefix": prefix},
    )
    return bool(rows[0][0])


async def insert_sold(
    conn: Conn,
    *,
    product_id: int,
    order_id: int,
    sealed: list[tuple[bytes, bytes]],
    first_slot: int,
    now: datetime,
) -> int:
    """Cards bought for an order from a supplier, stored sold to it like own keys.

    ``sealed``: (fingerprint, ciphertext) per card. Returns how many were stored (a
    card the product already holds is not stored twice)."""
    stored = 0
    for offset, (fingerprint, secret) in enumerate(sealed):
        row = await fetch_all(
            conn,
            f"INSERT INTO card_keys (product_id, status, fingerprint, secret, order_id, slot, "
            f"created_at, sold_at) VALUES (%(p)s, '{CardKeyStatus.SOLD}', %(f)s, %(s)s, %(o)s, "
            "%(slot)s, %(now)s, %(now)s) ON CONFLICT DO NOTHING RETURNING id",
            {
                "p": product_id,
                "f": fingerprint,
                "s": secret,
                "o": order_id,
                "slot": first_slot + offset,
                "now": now,
            },
        )
        stored += len(row)
    return stored
