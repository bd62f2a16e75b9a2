"""Lookup SQL that is not an order's own: card keys by fingerprint."""

from __future__ import annotations

from kameng.db.connection import Conn, fetch_one


async def card_key_order_id(conn: Conn, fingerprints: list[bytes]) -> int | None:
    """The order holding a sold card key with one of these fingerprints."""
    if not fingerprints:
        return None
    row = await fetch_one(
        conn,
        "SELECT order_id FROM card_keys WHERE fingerprint = ANY(%(f)s) "
        "AND order_id IS NOT NULL LIMIT 1",
        {"f": fingerprints},
    )
    return None if row is None else int(row[0])
