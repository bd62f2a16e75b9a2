"""Rate-limit counters: one upsert per counted event, one indexed read per check."""

from __future__ import annotations

from datetime import datetime, timedelta

from kameng.db.connection import Conn, execute, fetch_one

# Fixed window: the first hit after a window has passed starts a new one.
_HIT = """
INSERT INTO rate_limits AS r (key, window_start, hits) VALUES (%(k)s, %(now)s, 1)
ON CONFLICT (key) DO UPDATE SET
    hits = CASE WHEN r.window_start <= %(now)s - %(w)s THEN 1 ELSE r.hits + 1 END,
    window_start = CASE WHEN r.window_start <= %(now)s - %(w)s
        THEN %(now)s ELSE r.window_start END
RETURNING hits
"""


async def hit(conn: Conn, key: str, *, now: datetime, window: timedelta) -> int:
    """Count one event; returns the count in the current window."""
    row = await fetch_one(conn, _HIT, {"k": key, "now": now, "w": window})
    return int(row[0])


async def current(conn: Conn, key: str, *, now: datetime, window: timedelta) -> int:
    row = await fetch_one(
        conn,
        "SELECT hits FROM rate_limits WHERE key = %(k)s AND window_start > %(now)s - %(w)s",
        {"k": key, "now": now, "w": window},
    )
    return 0 if row is None else int(row[0])


async def delete_stale(conn: Conn, *, before: datetime) -> None:
    await execute(conn, "DELETE FROM rate_limits WHERE window_start < %(b)s", {"b": before})
