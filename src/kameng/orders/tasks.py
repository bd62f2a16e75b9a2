"""Order jobs: expiring unpaid orders."""

from __future__ import annotations

from procrastinate import JobContext

from kameng.db.connection import transaction
from kameng.db.jobs import JobDeps, deps, periodic_job
from kameng.kit import clock
from kameng.orders import service

BATCH = 200


@periodic_job(
    "orders.expire_unpaid", cron="* * * * *", queue="maintenance", periodic_id="expire-unpaid"
)
async def expire_unpaid(context: JobContext, timestamp: int) -> None:
    """Batches under SKIP LOCKED: an order being paid right now is left alone
    (its notify holds the lock) and a late payment can still revive it."""
    needs: JobDeps = deps(context)
    while True:
        async with transaction(needs.pool) as conn:
            done = await service.expire_due(conn, now=clock.now(), limit=BATCH)
        if done < BATCH:
            return
