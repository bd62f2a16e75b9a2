"""Read-only views of the job queue (procrastinate's tables) for monitoring."""

from __future__ import annotations

from kameng.db.connection import Conn, fetch_one


async def oldest_due_job_age(conn: Conn) -> float:
    """Seconds since the oldest job still waiting became due (0 when none waits).

    A job is due from its ``scheduled_at``, or from when it was deferred (its
    first event) when it is not scheduled.
    """
    row = await fetch_one(
        conn,
        """
        SELECT coalesce(extract(epoch FROM now() - min(due)), 0)::float8
        FROM (
            SELECT coalesce(j.scheduled_at, (
                SELECT min(e.at) FROM procrastinate_events e WHERE e.job_id = j.id
            )) AS due
            FROM procrastinate_jobs j
            WHERE j.status = 'todo' AND (j.scheduled_at IS NULL OR j.scheduled_at <= now())
        ) AS waiting
        """,
    )
    age: float = row[0] if row else 0.0  # float8: seconds, not money
    return max(age, 0.0)
