"""The supply engine on the worker: one job per order step, a sweep as safety net,
and the deadline sweep."""

from __future__ import annotations

from typing import Any, Protocol

from procrastinate import JobContext
from procrastinate.exceptions import AlreadyEnqueued
from psycopg_pool import AsyncConnectionPool

from kameng.db.connection import Conn, transaction
from kameng.db.jobs import JobName, app, deps, periodic_job
from kameng.fulfilment.alerts import Alerts
from kameng.fulfilment.supply import deadlines, engine
from kameng.fulfilment.supply import repository as repo
from kameng.fulfilment.supply.config import SupplyConfig
from kameng.kit import clock
from kameng.kit.logs import bind

BATCH = 500
# A step that must wait longer than this is left to the next job or the sweep
# rather than kept in the worker's memory.
INLINE_WAIT_SECONDS = 0.0


class SupplyJobDeps(Protocol):
    """What supply jobs take from the worker (kameng.worker.app.WorkerRuntime)."""

    @property
    def pool(self) -> AsyncConnectionPool[Conn]: ...

    @property
    def supply(self) -> SupplyConfig | None: ...

    @property
    def alerts(self) -> Alerts: ...


def _config(needs: SupplyJobDeps) -> SupplyConfig:
    if needs.supply is None:
        raise RuntimeError("the worker was started without a supply configuration")
    return needs.supply


@app.task(name=JobName.SUPPLY_ADVANCE.value, queue="supply", retry=3, pass_context=True)
async def advance(context: JobContext, order_id: int) -> None:
    """Move one order on until it waits (for an answer, a time) or is done."""
    needs: SupplyJobDeps = deps(context)
    cfg = _config(needs)
    async with transaction(needs.pool) as conn:
        row = await repo.order_number(conn, order_id)
    if row is not None:
        bind(order_no=row)
    await run_order(needs.pool, cfg, order_id)


async def run_order(pool: AsyncConnectionPool[Conn], cfg: SupplyConfig, order_id: int) -> None:
    """Steps until one says "later"; then a job is scheduled for that time."""
    for _ in range(20):  # a bound, so a confused supplier cannot keep a worker busy
        wait = await engine.step(pool, cfg, order_id)
        if wait is None:
            return
        if wait > INLINE_WAIT_SECONDS:
            async with transaction(pool) as conn:
                await schedule(conn, order_id, wait)
            return
    async with transaction(pool) as conn:
        await schedule(conn, order_id, 1.0)


async def schedule(conn: Conn, order_id: int, seconds: float | None = None) -> None:
    """The order's next step as a job (in ``seconds``, or now). One such job per
    order waits at a time (its queueing lock): the sweep and a step asking for
    a later look do not pile up jobs for an order that waits for hours."""
    options: dict[str, Any] = {"connection": conn, "queueing_lock": f"supply:{order_id}"}
    if seconds is not None:
        options["schedule_in"] = {"seconds": max(int(seconds + 0.999), 1)}
    try:
        async with conn.transaction():  # a savepoint: a refused duplicate is no error
            await app.configure_task(JobName.SUPPLY_ADVANCE.value, **options).defer_async(
                order_id=order_id
            )
    except AlreadyEnqueued:
        pass  # that job will look at the order


@periodic_job("supply.sweep", cron="* * * * *", queue="supply", periodic_id="supply-sweep")
async def sweep(context: JobContext, timestamp: int) -> None:
    """Orders whose step is due but whose job is gone (a killed worker, a lost job)."""
    needs: SupplyJobDeps = deps(context)
    await sweep_due(needs.pool)


async def sweep_due(pool: AsyncConnectionPool[Conn]) -> list[int]:
    async with transaction(pool) as conn:
        due = await repo.orders_needing_work(conn, now=clock.now(), limit=BATCH)
        for order_id in due:
            await schedule(conn, order_id)
    return due


@periodic_job("supply.deadlines", cron="* * * * *", queue="supply", periodic_id="supply-deadlines")
async def sweep_deadlines(context: JobContext, timestamp: int) -> None:
    needs: SupplyJobDeps = deps(context)
    await run_deadlines(needs.pool, needs.alerts)


async def run_deadlines(pool: AsyncConnectionPool[Conn], alerts: Alerts) -> int:
    async with transaction(pool) as conn:
        due = await deadlines.sweep(conn, now=clock.now())
    await alerts.send(due)  # after the commit: no network under a lock
    return len(due)
