"""Restock jobs: an import defers one; a minute sweeper is the safety net."""

from __future__ import annotations

from kameng.db.connection import transaction
from kameng.fulfilment import service
from kameng.kit import clock
from kameng.orders import repository as orders
from kameng.worker.app import app
from kameng.worker.context import pool


@app.task(name="fulfilment.fulfil_awaiting_stock", queue="fulfil", retry=5)
async def fulfil_awaiting_stock(product_id: int) -> None:
    """Deliver waiting orders of ``product_id``, oldest paid first, while stock lasts.

    One transaction per order, so a failure never undoes earlier deliveries and
    each order is re-read under lock (already-delivered orders are skipped).
    """
    while True:
        async with transaction(pool()) as conn:
            served = await service.fulfil_next_waiting(conn, product_id, now=clock.now())
        if not served:
            return


@app.periodic(cron="* * * * *", periodic_id="restock-sweep")
@app.task(name="fulfilment.sweep_awaiting_stock", queue="fulfil", queueing_lock="restock-sweep")
async def sweep_awaiting_stock(timestamp: int) -> None:
    """Catches any order a restock job missed (e.g. keys skipped while locked)."""
    async with transaction(pool()) as conn:
        product_ids = await orders.products_awaiting_stock(conn)
    for product_id in product_ids:
        await fulfil_awaiting_stock(product_id)
