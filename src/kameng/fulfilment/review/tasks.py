"""The review SLA sweep on the worker."""

from __future__ import annotations

from procrastinate import JobContext
from psycopg_pool import AsyncConnectionPool

from kameng.db.connection import Conn, transaction
from kameng.db.jobs import app, deps
from kameng.fulfilment.alerts import Alerts
from kameng.fulfilment.review import service
from kameng.fulfilment.supply.tasks import SupplyJobDeps
from kameng.kit import clock


@app.periodic(cron="* * * * *", periodic_id="review-deadlines")
@app.task(
    name="review.deadlines", queue="supply", queueing_lock="review-deadlines", pass_context=True
)
async def sweep_review_deadlines(context: JobContext, timestamp: int) -> None:
    needs: SupplyJobDeps = deps(context)
    await run_review_deadlines(needs.pool, needs.alerts)


async def run_review_deadlines(pool: AsyncConnectionPool[Conn], alerts: Alerts) -> int:
    async with transaction(pool) as conn:
        due = await service.sweep(conn, now=clock.now())
    await alerts.send(due)  # after the commit: no network under a lock
    return len(due)
