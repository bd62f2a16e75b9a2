"""Order jobs: expiring unpaid orders."""

from __future__ import annotations

from procrastinate import JobContext

from kameng.db.connection import transaction
from kameng.db.jobs import JobDeps, app, deps
from kameng.kit import clock
from kameng.orders import service

BATCH = 200


@app.periodic(cron="* * * * *", periodic_id="expire-unpaid")
@app.task(
    name="orders.expire_unpaid",
    queue="maintenance",
    queueing_lock="expire-unpaid",
    pass_context=True,
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
