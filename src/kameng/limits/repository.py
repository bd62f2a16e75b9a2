"""Rate-limit counters: one upsert per counted event, one indexed read per check,
and one statement that does both for a request's whole budget check."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from kameng.db.connection import Conn, execute, fetch_one

# Fixed window: the first hit after a window has passed starts a new one.
#
# Committed asynchronously (synchronous_commit off for this statement's own
# transaction only: set_config(..., true) ends with it, before the pooled
# connection serves anything else). Waiting for the WAL flush cost 2-5 ms per
# lookup on this machine's disk, more than everything else a lookup does; a
# crash of PostgreSQL itself may forget the last fraction of a second of counts,
# which no attacker can choose to do. Never run inside a transaction that writes
# anything that must be durable (the Limiter uses connections of its own).
_HIT = """
INSERT INTO rate_limits AS r (key, window_start, hits)
SELECT %(k)s, %(now)s, 1 FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async
ON CONFLICT (key) DO UPDATE SET
    hits = CASE WHEN r.window_start <= %(now)s - %(w)s THEN 1 ELSE r.hits + 1 END,
    window_start = CASE WHEN r.window_start <= %(now)s - %(w)s
        THEN %(now)s ELSE r.window_start END
RETURNING hits
"""

# A live counter's hits, 0 when there is none (or the key is NULL: nothing to read).
_READ = (
    "COALESCE((SELECT hits FROM rate_limits WHERE key = %(k{i})s"
    " AND window_start > %(now)s - %(w{i})s), 0)"
)


def _hit_and_read_sql(reads: int) -> str:
    columns = "".join(", " + _READ.format(i=i) for i in range(reads))
    return f"WITH counted AS ({_HIT}) SELECT (SELECT hits FROM counted){columns}"


# One text per number of reads, so psycopg prepares each once per connection.
_HIT_AND_READ = {n: _hit_and_read_sql(n) for n in range(4)}


async def hit(conn: Conn, key: str, *, now: datetime, window: timedelta) -> int:
    """Count one event; returns the count in the current window."""
    row = await fetch_one(conn, _HIT, {"k": key, "now": now, "w": window})
    return int(row[0])


async def hit_and_read(
    conn: Conn,
    key: str,
    *,
    now: datetime,
    window: timedelta,
    reads: Sequence[tuple[str | None, timedelta]],
) -> tuple[int, list[int]]:
    """Count one event on ``key`` and read the live counts of ``reads`` (a None
    key reads 0), in ONE statement: a lookup's budget check is one round trip.
    The reads see the counters as they were when the statement started, which
    for other keys is what separate statements would have seen."""
    params: dict[str, object] = {"k": key, "now": now, "w": window}
    for i, (read_key, read_window) in enumerate(reads):
        params[f"k{i}"] = read_key
        params[f"w{i}"] = read_window
    sql = _HIT_AND_READ.get(len(reads)) or _hit_and_read_sql(len(reads))
    row = await fetch_one(conn, sql, params)
    return int(row[0]), [int(v) for v in row[1:]]


async def current(conn: Conn, key: str, *, now: datetime, window: timedelta) -> int:
    row = await fetch_one(
        conn,
        "SELECT hits FROM rate_limits WHERE key = %(k)s AND window_start > %(now)s - %(w)s",
        {"k": key, "now": now, "w": window},
    )
    return 0 if row is None else int(row[0])


async def delete_stale(conn: Conn, *, before: datetime) -> None:
    await execute(conn, "DELETE FROM rate_limits WHERE window_start < %(b)s", {"b": before})
