"""Rate-limit jobs: counters whose window is long over are deleted, so the
table holds only live windows however many addresses have knocked."""

from __future__ import annotations

from procrastinate import JobContext

from kameng.db.connection import transaction
from kameng.db.jobs import JobDeps, app, deps
from kameng.kit import clock
from kameng.limits import service


@app.periodic(cron="17 * * * *", periodic_id="forget-stale-limits")
@app.task(
    name="limits.forget_stale",
    queue="maintenance",
    queueing_lock="forget-stale-limits",
    pass_context=True,
)
async def forget_stale(context: JobContext, timestamp: int) -> None:
    needs: JobDeps = deps(context)
    async with transaction(needs.pool) as conn:
        await service.forget_stale(conn, now=clock.now())
