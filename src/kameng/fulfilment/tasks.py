"""Restock jobs: an import defers one; a minute sweeper is the safety net."""

from __future__ import annotations

from procrastinate import JobContext
from psycopg_pool import AsyncConnectionPool

from kameng.db.connection import Conn, transaction
from kameng.db.jobs import JobDeps, JobName, app, deps, periodic_job
from kameng.fulfilment import service
from kameng.kit import clock
from kameng.orders import repository as orders


@app.task(name=JobName.RESTOCK.value, queue="fulfil", retry=5, pass_context=True)
async def fulfil_awaiting_stock(context: JobContext, product_id: int) -> None:
    """Deliver waiting orders of ``product_id``, oldest paid first, while stock lasts."""
    needs: JobDeps = deps(context)
    await _serve_waiting(needs.pool, product_id)


@periodic_job(
    "fulfilment.sweep_awaiting_stock", cron="* * * * *", queue="fulfil", periodic_id="restock-sweep"
)
async def sweep_awaiting_stock(context: JobContext, timestamp: int) -> None:
    """Catches any order a restock job missed (e.g. keys skipped while locked)."""
    needs: JobDeps = deps(context)
    async with transaction(needs.pool) as conn:
        product_ids = await orders.products_awaiting_stock(conn)
    for product_id in product_ids:
        await _serve_waiting(needs.pool, product_id)


async def _serve_waiting(pool: AsyncConnectionPool[Conn], product_id: int) -> None:
    """One transaction per order, so a failure never undoes earlier deliveries and
    each order is re-read under lock (already-delivered orders are skipped)."""
    while True:
        async with transaction(pool) as conn:
            served = await service.fulfil_next_waiting(conn, product_id, now=clock.now())
        if not served:
            return
