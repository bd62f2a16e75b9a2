"""Order jobs: expiring unpaid orders."""

from __future__ import annotations

from kameng.db.connection import transaction
from kameng.kit import clock
from kameng.orders import service
from kameng.worker.app import app
from kameng.worker.context import pool

BATCH = 200


@app.periodic(cron="* * * * *", periodic_id="expire-unpaid")
@app.task(name="orders.expire_unpaid", queue="maintenance", queueing_lock="expire-unpaid")
async def expire_unpaid(timestamp: int) -> None:
    """Batches under SKIP LOCKED: an order being paid right now is left alone
    (its notify holds the lock) and a late payment can still revive it."""
    while True:
        async with transaction(pool()) as conn:
            done = await service.expire_due(conn, now=clock.now(), limit=BATCH)
        if done < BATCH:
            return
