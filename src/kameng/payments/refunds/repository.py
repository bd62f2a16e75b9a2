"""SQL the refund job needs beyond kameng.refunds.repository."""

from __future__ import annotations

from datetime import datetime

from kameng.db.connection import Conn, execute, fetch_one


async def order_no_of(conn: Conn, order_id: int) -> str:
    row = await fetch_one(conn, "SELECT order_no FROM orders WHERE id = %(o)s", {"o": order_id})
    return str(row[0])


async def postpone(
    conn: Conn, refund_id: int, *, until: datetime, error: str, now: datetime
) -> None:
    """Not a state change: the refund waits (e.g. its gateway cannot refund through an API)."""
    await execute(
        conn,
        "UPDATE refunds SET next_attempt_at = %(until)s, last_error = %(error)s, "
        "updated_at = %(now)s WHERE id = %(i)s",
        {"until": until, "error": error, "now": now, "i": refund_id},
    )


async def note(conn: Conn, refund_id: int, *, error: str, now: datetime) -> None:
    await execute(
        conn,
        "UPDATE refunds SET last_error = %(error)s, updated_at = %(now)s WHERE id = %(i)s",
        {"error": error, "now": now, "i": refund_id},
    )
