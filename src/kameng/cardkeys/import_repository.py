"""SQL of the bulk import. It runs on the raw psycopg connection because COPY
is what makes a million lines a matter of seconds."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any

import psycopg
from psycopg import AsyncCopy

# One import per product at a time (advisory lock class "KMIM"): the duplicate
# check and the insert then see the same stock.
_LOCK_CLASS = 0x4B4D494D  # "KMIM"
_TEMP_TABLE = "card_key_import"

Conn = psycopg.AsyncConnection[Any]


async def product_id_by_sku(conn: Conn, sku: str) -> int | None:
    cur = await conn.execute("SELECT id FROM products WHERE sku = %s", (sku,))
    row = await cur.fetchone()
    return None if row is None else int(row[0])


async def lock_product_imports(conn: Conn, product_id: int) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock(%s, hashint8(%s))", (_LOCK_CLASS, product_id))


async def create_staging_table(conn: Conn) -> None:
    await conn.execute(
        f"CREATE TEMPORARY TABLE {_TEMP_TABLE} ("
        " line_no integer NOT NULL, fingerprint bytea NOT NULL, secret bytea NOT NULL"
        ") ON COMMIT DROP"
    )


def copy_into_staging(conn: Conn) -> AbstractAsyncContextManager[AsyncCopy]:
    """Binary COPY of (line_no, fingerprint, secret) rows."""
    return conn.cursor().copy(
        f"COPY {_TEMP_TABLE} (line_no, fingerprint, secret) FROM STDIN (FORMAT BINARY)"
    )


async def drop_stock_duplicates(conn: Conn, product_id: int) -> list[int]:
    """Remove staged keys the product already has; returns their line numbers."""
    await conn.execute(f"ANALYZE {_TEMP_TABLE}")
    cur = await conn.execute(
        f"DELETE FROM {_TEMP_TABLE} AS t USING card_keys AS k"
        " WHERE k.product_id = %s AND k.fingerprint = t.fingerprint"
        " RETURNING t.line_no",
        (product_id,),
    )
    return sorted(r[0] for r in await cur.fetchall())


async def insert_staged(conn: Conn, product_id: int, now: datetime) -> int:
    """Move staged keys into stock, in file order; returns how many were inserted."""
    cur = await conn.execute(
        "INSERT INTO card_keys (product_id, fingerprint, secret, created_at)"
        f" SELECT %s, fingerprint, secret, %s FROM {_TEMP_TABLE} ORDER BY line_no"
        " ON CONFLICT (product_id, fingerprint) DO NOTHING",
        (product_id, now),
    )
    await conn.execute(f"DROP TABLE {_TEMP_TABLE}")
    return cur.rowcount


async def analyze_stock(conn: Conn) -> None:
    # Without fresh statistics the planner may misjudge the allocation query
    # after a bulk load (autovacuum may be off or late); ANALYZE sees our own rows.
    await conn.execute("ANALYZE card_keys")
