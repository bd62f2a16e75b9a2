"""Rate-limit jobs: counters whose window is long over are deleted, so the
table holds only live windows however many addresses have knocked."""

from __future__ import annotations

from procrastinate import JobContext

from kameng.db.connection import transaction
from kameng.db.jobs import JobDeps, deps, periodic_job
from kameng.kit import clock
from kameng.limits import service


@periodic_job(
    "limits.forget_stale", cron="17 * * * *", queue="maintenance", periodic_id="forget-stale-limits"
)
async def forget_stale(context: JobContext, timestamp: int) -> None:
    needs: JobDeps = deps(context)
    async with transaction(needs.pool) as conn:
        await service.forget_stale(conn, now=clock.now())
